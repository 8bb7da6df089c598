# shellcheck shell=bash
# Shared by tools/run and tools/test (sourced, not run): makes sure the
# Debian 12 packages duijie builds with are installed, using apt-get (through
# sudo when not root) only when something is missing.

DUIJIE_PACKAGES=(
  build-essential cmake pkg-config
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libssl-dev liblemon-dev
  openssl
  python3 python3-grpcio python3-protobuf
  # duijie-web, the office dashboard: its HTTP server, and Chart.js served
  # to the page from this machine (no CDN); tests/web_test.sh loads the page
  # in headless Chromium and reads the JSON endpoints with python3
  # (tests/loopback_get.py) and jq, all on the loopback address (nothing is
  # fetched from the network).
  libcpp-httplib-dev libjs-chart.js chromium jq
)

# What tools/fuzz needs besides: clang with its sanitizer runtimes and
# libFuzzer.
DUIJIE_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev libfuzzer-14-dev)

# Prints the packages given (default: DUIJIE_PACKAGES) that dpkg does not
# list as installed.
duijie_missing_packages() {
  local p
  (($#)) || set -- "${DUIJIE_PACKAGES[@]}"
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -q '^install ok installed$'; then
      echo "$p"
    fi
  done
}

# Installs whatever is missing of the packages given (default:
# DUIJIE_PACKAGES); returns non-zero when it cannot.
duijie_install_deps() {
  (($#)) || set -- "${DUIJIE_PACKAGES[@]}"
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "note: not a Debian system; make sure these are installed:" \
         "$*" >&2
    return 0
  fi
  local missing
  missing=$(duijie_missing_packages "$@")
  if [[ -z "$missing" ]]; then
    return 0
  fi
  # shellcheck disable=SC2206  # package names have no spaces
  local pkgs=($missing)
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "error: these packages are missing and installing them needs root" \
           "(no sudo here): ${pkgs[*]}" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "==> installing build dependencies with apt-get: ${pkgs[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
}

# Parallel build jobs: one per CPU.
duijie_jobs() {
  nproc 2>/dev/null || echo 2
}
