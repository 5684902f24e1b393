# Regenerates one committed fuzz corpus (the fuzz_corpus target runs it):
# fuzzes FUZZER for SECONDS starting from CORPUS, then replaces CORPUS with
# the smallest set of inputs (at most 512 bytes each, so the files stay
# small) that keeps the coverage of the old corpus and the new findings.
# -DFUZZER=... -DCORPUS=... -DWORK=<scratch directory> -DSECONDS=...
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/found" "${WORK}/merged" "${CORPUS}")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGV}")
  endif()
endfunction()

run("${FUZZER}" -error_exitcode=1 -max_len=512 -max_total_time=${SECONDS}
    -artifact_prefix=${WORK}/ "${WORK}/found" "${CORPUS}")
run("${FUZZER}" -set_cover_merge=1 -max_len=512 "${WORK}/merged" "${CORPUS}"
    "${WORK}/found")
file(GLOB old "${CORPUS}/*")
if(old)
  file(REMOVE ${old})
endif()
file(GLOB merged "${WORK}/merged/*")
file(COPY ${merged} DESTINATION "${CORPUS}")
list(LENGTH merged count)
message(STATUS "${CORPUS}: ${count} inputs")
