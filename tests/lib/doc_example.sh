# Shared by the tests that compile a C example of the documentation as
# written (sourced, not run). build_doc_example BUILD SRC DOC HEADING OUT:
# the first ```c block of SRC/DOC after the line HEADING ("" for the first
# of the file), compiled against BUILD's static library with BUILD's
# settings (double, BLAS, oneDNN, sanitizers) into OUT.
build_doc_example() {
    local build=$1 src=$2 doc=$3 heading=$4 out=$5
    awk -v heading="$heading" 'heading == "" || $0 == heading {in_section=1}
        in_section && /^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$src/$doc" >"$out.c"
    test -s "$out.c" || { echo "no C example in $doc"; return 1; }
    local flags libs blas san
    flags=$(grep -q 'NABLA_DOUBLE:BOOL=ON' "$build/CMakeCache.txt" && echo -DNABLA_DOUBLE || true)
    libs=$(pkg-config --libs libcjson zlib)
    blas=$(grep -q 'NABLA_BLAS:BOOL=OFF' "$build/CMakeCache.txt" || pkg-config --libs openblas)
    san=$(grep -q 'NABLA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" &&
        echo -fsanitize=address,undefined || true)
    # What else the static library needs (oneDNN and OpenMP when built
    # with them), as the build's pkg-config file says it.
    local extra
    extra=$(sed -n 's/^Libs.private: //p' "$build/nabla.pc")
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror $flags -I "$src/include" "$out.c" \
        "$build/libnabla.a" $libs $blas $extra -lm -o "$out" $san
}
