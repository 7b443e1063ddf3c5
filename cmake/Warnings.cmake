# Warnings are errors for our own code. Third-party headers are included as SYSTEM by their
# imported targets, so their warnings do not stop the build.
function(meshgate_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough
    -Wno-unused-parameter)
endfunction()
