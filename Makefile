# A thin driver over CMake. `make check` runs every test in every build.
.PHONY: all build check deps fashion bench format clean

all: build

deps:
	bash scripts/deps.sh

build:
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
	cmake --build build/release -j

check:
	bash scripts/check.sh

fashion: deps build
	bash scripts/train-fashion.sh

bench:
	bash scripts/deps.sh --bench
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
