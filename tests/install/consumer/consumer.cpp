// consumer.cpp - the installed carve used the way a C++ program would:
// statuses turned into exceptions, carve's objects owned by unique_ptr with
// carve's release functions as deleters, text into std::string, an image
// in a std::vector. No device needed: the plan is laid out in host memory
// and read back with the carve_layout_* readers a set's image uses too.
#include <carve/carve.h>
#include <carve/diagnostics.h>
#include <carve/split.h> // compiles as C++ too

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct carve_error : std::runtime_error {
    carve_status status;
    explicit carve_error(carve_status s)
        : std::runtime_error(carve_status_string(s)), status(s) {}
};

void check(carve_status status)
{
    if (status != CARVE_SUCCESS)
        throw carve_error(status);
}

using report_ptr = std::unique_ptr<carve_report, decltype(&carve_report_release)>;

std::string plan_table(const carve_plan &plan)
{
    std::size_t needed = 0;
    carve_plan_format(&plan, nullptr, 0, &needed); // asks for the size
    std::string text(needed, '\0');
    check(carve_plan_format(&plan, &text[0], text.size(), nullptr));
    text.resize(needed - 1); // without the NUL
    return text;
}

} // namespace

int main()
{
    try {
        carve_plan_params params = carve_plan_params();
        params.work_dim = 2;
        params.global_size[0] = 16;
        params.global_size[1] = 4;
        params.arena_bytes = 256;
        params.options = CARVE_PLAN_CHECKS;
        const carve_device_limits limits = {1u << 30, 1u << 31, 128};
        carve_plan plan;
        check(carve_plan_compute(&params, &limits, &plan));
        std::string table = plan_table(plan);

        // The image, 4-byte aligned as the readers require.
        std::vector<std::uint32_t> image((plan.total_bytes + 3) / 4);
        check(carve_layout_format(image.data(), image.size() * 4, &plan));
        carve_summary summary;
        check(carve_layout_summary(image.data(), &summary));
        check(carve_layout_check(image.data(), nullptr, nullptr));
        carve_report *raw = nullptr;
        check(carve_layout_report(image.data(), 3, &raw));
        report_ptr report(raw, &carve_report_release);

        // A refusal arrives as an exception that names the status.
        bool refused = false;
        try {
            params.arena_bytes = 0;
            check(carve_plan_compute(&params, &limits, &plan));
        } catch (const carve_error &e) {
            refused = e.status == CARVE_ERROR_INVALID_ARENA_SIZE &&
                      std::string(e.what()).find("CARVE_ERROR_INVALID_ARENA_SIZE") == 0;
        }
        if (summary.arena_count != 64 || report->error_count != 0 ||
            table.find("64 arenas") == std::string::npos || !refused) {
            std::fputs("consumer.cpp: the installed carve does not work\n",
                       stderr);
            return 1;
        }
        std::printf("consumer.cpp: %u arenas laid out and checked with the "
                    "installed carve %s\n",
                    summary.arena_count, carve_version());
    } catch (const carve_error &e) {
        std::fprintf(stderr, "consumer.cpp: %s\n", e.what());
        return 1;
    }
    return 0;
}
