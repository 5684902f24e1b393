/* args.c - the command line: options, operands, numbers, usage errors. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_usage_error(const cli_command *command, const char *format, ...)
{
    va_list args;
    fflush(stdout);
    fprintf(stderr, "carve %s: ", command->name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\nsee 'carve %s --help'\n", command->name);
    return CLI_EXIT_USAGE;
}

static cli_option *find_option(cli_arguments *args, const char *name,
                               size_t name_length)
{
    size_t i;
    for (i = 0; i < args->option_count; ++i) {
        const char *known = args->options[i].name;
        if (strlen(known) == name_length &&
            strncmp(known, name, name_length) == 0)
            return &args->options[i];
    }
    return NULL;
}

/* Takes the option at argv[*at] (and its value, which may be the next
 * argument); advances *at past what it used. */
static int take_option(const cli_command *command, int argc, char **argv,
                       int *at, cli_arguments *args)
{
    const char *word = argv[*at];
    const char *equals = strchr(word, '=');
    size_t name_length = equals ? (size_t)(equals - word) : strlen(word);
    cli_option *option = find_option(args, word, name_length);
    const char *value;
    if (option == NULL)
        return cli_usage_error(command, "unknown option '%.*s'",
                               (int)name_length, word);
    if (option->value != NULL)
        return cli_usage_error(command, "%s is given twice", option->name);
    if (option->value_name == NULL) {
        if (equals != NULL)
            return cli_usage_error(command, "%s takes no value", option->name);
        value = "";
    } else if (equals != NULL) {
        value = equals + 1;
    } else if (*at + 1 < argc) {
        value = argv[++*at];
    } else {
        return cli_usage_error(command, "%s needs a value: %s %s",
                               option->name, option->name,
                               option->value_name);
    }
    /* An empty value is a mistake (often an unset shell variable), never
     * a request for the default: --device "" would pick the first device. */
    if (option->value_name != NULL && value[0] == '\0')
        return cli_usage_error(command, "%s needs a value: %s %s",
                               option->name, option->name,
                               option->value_name);
    option->value = value;
    ++*at;
    return CLI_CONTINUE;
}

int cli_parse(const cli_command *command, int argc, char **argv,
              cli_arguments *args)
{
    int at = 1, options_end = 0, result;
    size_t i;
    for (i = 0; i < args->option_count; ++i)
        args->options[i].value = NULL;
    args->operand_count = 0;
    while (at < argc) {
        const char *word = argv[at];
        if (!options_end &&
            (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0)) {
            fputs(command->help, stdout);
            return CLI_EXIT_OK;
        }
        if (!options_end && strcmp(word, "--") == 0) {
            options_end = 1;
            ++at;
            continue;
        }
        if (!options_end && word[0] == '-' && word[1] != '\0') {
            result = take_option(command, argc, argv, &at, args);
            if (result != CLI_CONTINUE)
                return result;
            continue;
        }
        if (args->operand_count == args->operand_max)
            return args->operand_max == 0
                       ? cli_usage_error(command, "unexpected argument '%s'",
                                         word)
                       : cli_usage_error(command, "too many arguments at '%s'",
                                         word);
        args->operands[args->operand_count++] = word;
        ++at;
    }
    return CLI_CONTINUE;
}

const char *cli_value(const cli_arguments *args, const char *name)
{
    size_t i;
    for (i = 0; i < args->option_count; ++i)
        if (strcmp(args->options[i].name, name) == 0)
            return args->options[i].value;
    return NULL;
}

/* The power of 1024 a suffix letter stands for, or -1. */
static int suffix_power(char c)
{
    static const char letters[] = "kmgt";
    const char *found;
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    found = c != '\0' ? strchr(letters, c) : NULL;
    return found ? (int)(found - letters) + 1 : -1;
}

int cli_parse_number(const cli_command *command, const char *option,
                     const char *text, uint64_t max, uint64_t *out)
{
    uint64_t value = 0;
    const char *p = text;
    int power = 0;
    if (*p < '0' || *p > '9')
        return cli_usage_error(command,
                               "%s: '%s' is not a number (digits, with an "
                               "optional K, M, G or T suffix)",
                               option, text);
    for (; *p >= '0' && *p <= '9'; ++p) {
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return cli_usage_error(command, "%s: '%s' is too large", option,
                                   text);
        value = value * 10 + digit;
    }
    if (*p != '\0') {
        power = suffix_power(*p);
        if (power < 0 || p[1] != '\0')
            return cli_usage_error(command,
                                   "%s: '%s' is not a number (digits, with "
                                   "an optional K, M, G or T suffix)",
                                   option, text);
    }
    for (; power > 0; --power) {
        if (value > UINT64_MAX / 1024)
            return cli_usage_error(command, "%s: '%s' is too large", option,
                                   text);
        value *= 1024;
    }
    if (value > max)
        return cli_usage_error(command, "%s: '%s' is too large (at most %llu)",
                               option, text, (unsigned long long)max);
    *out = value;
    return CLI_CONTINUE;
}

const char *cli_bytes_text(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB"};
    unsigned unit = 0;
    while (unit + 1 < sizeof units / sizeof units[0] &&
           bytes >= (1ull << (10 * (unit + 1))))
        ++unit;
    if (unit == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s",
                 (double)bytes / (double)(1ull << (10 * unit)), units[unit]);
    return buf;
}
