# shellcheck shell=bash
# Sourced by the build scripts: two checkouts on one machine (a test run and a worktree's)
# may ask for the same cached build at once. The first builds; the others wait on the lock
# and then find it complete, instead of writing the same files side by side.
build_lock() {
  mkdir -p "$1"
  exec 9>"$1.lock"
  flock 9
}
