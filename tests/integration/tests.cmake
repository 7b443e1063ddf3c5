# Integration tests: the real meshgate binary against miltertest, a private Postfix on
# loopback (own config/queue/data folders and ports, relaying to smtp-sink) and a private
# PostgreSQL. Included from tests/CMakeLists.txt. See docs/testing.md.
#
#   ctest -L integration                  all of them
#   ctest -R integration.postfix.forged   one
#
# Each test is `python3 <suite>.py NAME --meshgate <binary>` (Python 3 standard library only;
# harness in lib/mgharness.py). Exit 77 = skipped, printed with the reason, when a prerequisite
# is genuinely missing (not root, Postfix/miltertest/PostgreSQL not installed): ctest reports
# it as "Skipped", never as passed. Tests need no lock between them: every test has its own
# folders and ports. The 1,000-message test asks for 2 processors so that under `ctest -j2` it
# runs alone and its timings stay meaningful.
#
# Timeouts: each test aborts itself at its budget (times 3 for a sanitizer build, whose
# meshgate is several times slower) and still tears everything down; ctest's TIMEOUT is a
# backstop above that.

set(_mg_it_dir ${CMAKE_CURRENT_LIST_DIR})
if(MESHGATE_SANITIZE)
  set(_mg_it_slow 3)
else()
  set(_mg_it_slow 1)
endif()

# meshgate_integration_test(SUITE NAME BUDGET_SECONDS [PROCESSORS n])
function(meshgate_integration_test suite name budget)
  cmake_parse_arguments(arg "" "PROCESSORS" "" ${ARGN})
  set(test integration.${suite}.${name})
  if(suite STREQUAL "miltertest")
    set(script ${_mg_it_dir}/milter_tests.py)
  elseif(suite STREQUAL "sendmail" OR suite STREQUAL "package" OR suite STREQUAL "hostile"
         OR suite STREQUAL "injection")
    set(script ${_mg_it_dir}/${suite}_tests.py)
  elseif(suite STREQUAL "resolver" OR suite STREQUAL "bridge")
    set(script ${_mg_it_dir}/${suite}_tests.py)
  else()
    set(script ${_mg_it_dir}/postfix_tests.py)
  endif()
  add_test(NAME ${test}
           COMMAND ${Python3_EXECUTABLE} ${script} ${name} --meshgate $<TARGET_FILE:meshgate>
                   --budget ${budget})
  math(EXPR timeout "${budget} * ${_mg_it_slow} + 120")
  # COST: with no timings from an earlier run (a fresh clone), ctest starts the tests with the
  # largest budgets first, so the long ones do not trail at the end of the run alone.
  set_tests_properties(${test} PROPERTIES
    LABELS "integration;${suite}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${timeout}
    COST ${budget})
  if(arg_PROCESSORS)
    set_tests_properties(${test} PROPERTIES PROCESSORS ${arg_PROCESSORS})
  endif()
endfunction()

# miltertest Lua scripts (tests/integration/miltertest/) against `meshgate milter`.
meshgate_integration_test(miltertest negotiation 60)
meshgate_integration_test(miltertest per_recipient_reject 60)
meshgate_integration_test(miltertest quarantine 60)
meshgate_integration_test(miltertest signal_insert 60)
meshgate_integration_test(miltertest forged_signal 60)
meshgate_integration_test(miltertest stop_drain 60)
meshgate_integration_test(miltertest brand_outbound 60)
meshgate_integration_test(miltertest brand_inbound 60)
meshgate_integration_test(miltertest store_locked_sqlite 90)
meshgate_integration_test(miltertest store_gone_postgresql 150)
meshgate_integration_test(miltertest store_hung_postgresql 150)

# End to end through a real Postfix (issue 5 item 8).
meshgate_integration_test(postfix known_contact_signal 90)
meshgate_integration_test(postfix contacts_only_reject 90)
meshgate_integration_test(postfix forged_signal 90)
meshgate_integration_test(postfix quarantine_hold 90)
meshgate_integration_test(postfix store_locked_tempfail 90)
meshgate_integration_test(postfix policyd_rcpt_reject 90)
meshgate_integration_test(postfix outbound_egress_and_brand 120)
meshgate_integration_test(postfix kill_restart_no_loss 300 PROCESSORS 2)

# Faults under load through a real Postfix, messages counted at the sink (issue 9 item 1).
meshgate_integration_test(postfix policyd_stop_start_no_loss 240 PROCESSORS 2)
meshgate_integration_test(postfix store_locked_under_load_no_loss 240 PROCESSORS 2)
meshgate_integration_test(postfix disk_full_no_loss 240 PROCESSORS 2)
meshgate_integration_test(postfix postgresql_restart_no_loss 240 PROCESSORS 2)

# Hostile messages through a real Postfix, memory measured (issue 9 item 2).
meshgate_integration_test(hostile corpus_through_postfix 240 PROCESSORS 2)

# SQL injection and other hostile values through every CLI and API input (issue 9 item 3).
meshgate_integration_test(injection cli_every_input 180 PROCESSORS 2)
meshgate_integration_test(injection api_every_input 90)

# Profile resolver between two Mesh services on loopback (issue 4 item 6).
meshgate_integration_test(resolver cross_domain 90)
meshgate_integration_test(resolver tampered_profile 90)
meshgate_integration_test(resolver silent_service 60)

# SMTP -> Mesh -> SMTP between two meshgate instances (example.com, example.net), each with its
# own Mesh service and store, A with its Postfix (issue 7 items 1, 3 and 6): bridge_tests.py.
meshgate_integration_test(bridge encrypted_delivery 180)
meshgate_integration_test(bridge service_down_defers 180)
meshgate_integration_test(bridge contact_request_round_trip 180)
meshgate_integration_test(bridge held_release 180)

# End to end through a real Sendmail, unpacked from the Debian packages (issue 10 item 2).
meshgate_integration_test(sendmail contacts_only_reject 120)
meshgate_integration_test(sendmail known_contact_signal 120)
meshgate_integration_test(sendmail forged_signal 120)
meshgate_integration_test(sendmail milter_down_tempfail 120)
meshgate_integration_test(sendmail quarantine_hold 120)

# The Debian package installed on this machine, run as its unit says, purged (issue 10 item 1).
meshgate_integration_test(package install_run_purge 180)

# The SSH adapter against a real sshd on loopback (issue 7 item 4): ssh_tests.py.
foreach(_mg_ssh_test catalog_decides store_unavailable)
  add_test(NAME integration.ssh.${_mg_ssh_test}
           COMMAND ${Python3_EXECUTABLE} ${_mg_it_dir}/ssh_tests.py ${_mg_ssh_test}
                   --meshgate $<TARGET_FILE:meshgate> --budget 90)
  math(EXPR _mg_ssh_timeout "90 * ${_mg_it_slow} + 120")
  set_tests_properties(integration.ssh.${_mg_ssh_test} PROPERTIES
    LABELS "integration;ssh" SKIP_RETURN_CODE 77 TIMEOUT ${_mg_ssh_timeout})
endforeach()

# The harness itself: Python syntax of every file, so a broken edit fails at once (parsed
# only: nothing is written to the source tree).
add_test(NAME integration.harness_compiles
         COMMAND ${Python3_EXECUTABLE} -c
                 "import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]"
                 ${_mg_it_dir}/lib/mgharness.py ${_mg_it_dir}/milter_tests.py
                 ${_mg_it_dir}/postfix_tests.py ${_mg_it_dir}/sendmail_tests.py
                 ${_mg_it_dir}/package_tests.py ${_mg_it_dir}/resolver_tests.py
                 ${_mg_it_dir}/hostile_tests.py ${_mg_it_dir}/injection_tests.py
                 ${_mg_it_dir}/bridge_tests.py)
set_tests_properties(integration.harness_compiles PROPERTIES LABELS "integration")
