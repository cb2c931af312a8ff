# Shared by scripts/run and scripts/test: install what a fresh Debian 12 machine with the Rust
# toolchain lacks for building and testing Eddy.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} ..." >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

# rocksdb's bindgen needs libclang; the C++ compiler builds RocksDB itself.
ensure_build_deps() {
    apt_install libclang-dev clang g++
}

# A target directory outside the clone may be shared between clones (CI reuses the build).
default_target_dir() {
    if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work/target ] && [ -w /work/target ]; then
        export CARGO_TARGET_DIR=/work/target
    fi
}
