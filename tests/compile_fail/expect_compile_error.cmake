# Runs COMPILER FLAGS SOURCE; passes only if compilation fails and the output
# matches every regular expression in EXPECT.
execute_process(COMMAND ${COMPILER} ${FLAGS} ${SOURCE}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(result EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
foreach(pattern IN LISTS EXPECT)
  if(NOT all MATCHES "${pattern}")
    message(FATAL_ERROR "the compiler's output lacks '${pattern}':\n${all}")
  endif()
endforeach()
string(REGEX MATCHALL "error:" errors "${all}")
list(LENGTH errors count)
message(STATUS "failed to compile as expected (${count} error lines)")
