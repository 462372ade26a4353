# Fuzz harnesses (tests/fuzz/README.md), included from CMakeLists.txt.
#
# -DBFT_FUZZ=ON (with CC=clang): every library is compiled with coverage
# instrumentation and ASan+UBSan, and each harness links libFuzzer
# (`make fuzz` builds this in build-fuzz). Otherwise each harness links
# tests/fuzz/replay_main.c instead, and one ctest test per target replays
# its committed corpus tests/fuzz/corpus/<target>/ (part of `make test`).
set(FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(FUZZ_TARGETS fuzz_wire fuzz_node_pbft fuzz_node_hotstuff fuzz_node_raft fuzz_wal
    fuzz_restore fuzz_cluster fuzz_plan fuzz_scenario fuzz_client)

add_custom_target(fuzz_targets)
foreach(t ${FUZZ_TARGETS})
  if(t MATCHES "^fuzz_node_(.*)$")
    string(TOUPPER ${CMAKE_MATCH_1} proto)
    set(src ${FUZZ_DIR}/fuzz_node.c)
  else()
    set(proto "")
    set(src ${FUZZ_DIR}/${t}.c)
  endif()
  if(BFT_FUZZ)
    add_executable(${t} ${src})
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    add_executable(${t} ${src} ${FUZZ_DIR}/replay_main.c)
    add_test(NAME ${t}_replay COMMAND ${t} ${FUZZ_DIR}/corpus/${t})
    set_tests_properties(${t}_replay PROPERTIES TIMEOUT 300)
  endif()
  if(proto)
    target_compile_definitions(${t} PRIVATE FUZZ_PROTO=BFT_PROTO_${proto})
  endif()
  target_link_libraries(${t} bftfaults bftall)
  add_dependencies(fuzz_targets ${t})
endforeach()

# The seed generator (gen_seeds OUTDIR): regenerates the run-based seeds.
if(NOT BFT_FUZZ)
  add_executable(fuzz_gen_seeds ${FUZZ_DIR}/gen_seeds.c)
  target_link_libraries(fuzz_gen_seeds bftfaults bftall)
endif()
