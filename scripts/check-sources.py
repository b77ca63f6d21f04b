#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The project's source rules that the compiler does not check (scripts/test.sh runs this first).

1. The `xResult` rule: a public function that returns `Result<_, _>` is named `fooResult(...)`
   (its throwing twin is `foo(...)`), and none both throws and returns a Result.
2. One syscall layer per library: only the layer (Sources/LibVFIO/Syscalls/,
   Sources/LibLiveUpdate/Syscalls.swift) imports Glibc or calls a system call or the C shim's
   raw entry points (`vst_ioctl`, `vst_errno`, ...); everything else, the CLI and vfio-bench
   included, goes through the layer's typed, EINTR-retrying wrappers and its one errno bridge.
3. One error type per library: in LibVFIO only VFIOError conforms to Error, in LibLiveUpdate
   only LiveUpdateError (other failures are their nested kinds; a bad VFIO_SELFTESTS_* value is
   VFIOError.environment). The one exception is the registry's parser failure,
   SelftestsEnvironment.Mismatch, which is package-internal: the accessors turn it into
   VFIOError.environment before it leaves the library.

Prints one line per violation (file:line: what) and exits 1 when there is any.
Usage: scripts/check-sources.py [REPO]   (default: the repository this script is in)
"""
import pathlib
import re
import sys

repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
PUBLIC_FUNC = re.compile(
    r'\bpublic\s+(?:(?:static|final|mutating|nonisolated|class|override|@\w+)\s+)*func\s+(\w+)\s*(<[^>]*>)?\s*\(([^{]*)\{',
    re.S)


def line_of(text, index):
    return text.count('\n', 0, index) + 1


def naming_violations(path, text):
    for m in PUBLIC_FUNC.finditer(text):
        name, signature = m.group(1), m.group(3)
        if '->' not in signature:
            continue
        params_and_effects, result = signature.rsplit('->', 1)
        if not re.match(r'\s*Result\s*<', result):
            continue
        if re.search(r'\)\s*(?:async\s+)?(?:re)?throws\b', params_and_effects):
            yield f"{path}:{line_of(text, m.start())}: {name} both throws and returns a Result (make it {name.removesuffix('Result')}Result() returning the Result and a throwing {name.removesuffix('Result')}())"
        elif not name.endswith('Result'):
            yield f"{path}:{line_of(text, m.start())}: {name} returns a Result: name it {name}Result (and its throwing twin {name})"


LAYER = ('Sources/LibVFIO/Syscalls/', 'Sources/LibLiveUpdate/Syscalls.swift')
# Calls that are system calls (or libc's thin wrappers of them) and the C shim's raw entry
# points. A call preceded by `.` (a method: `fd.close()`, `FileSystem.read(...)`) or by `func`
# is not one. (`close`, `read`, `write` are left out: methods of those names abound. In the
# libraries the Glibc import rule catches them; `open` is listed, so an open/close pair is.)
# `vst_monotonic_ns` is not one: the shim's inline clock read (the vDSO), which vfio-bench calls
# on both edges of every timed round, as bench.c calls clock_gettime; a Swift wrapper around it
# is not inlined into the executable and would put a call inside every round. Nor is
# `vst_kmod_open` (CKmod's dlopen of libkmod): libkmod's own wrapper, KernelModules.swift, calls it.
RAW_CALL = re.compile(
    r'(?<![.\w])(?<!func )(?:'
    r'ioctl|vst_(?!monotonic_ns\b|kmod_open\b)\w+|fcntl|usleep|nanosleep|eventfd|kill|raise|signal|getpid|geteuid|getuid|'
    r'mmap|munmap|madvise|pread|pwrite|ftruncate|fallocate|memfd_create|unlink|opendir|readlink|'
    r'uname|getenv|setenv|fflush|sysconf|clock_gettime|waitpid|fork|getrlimit|setrlimit|access|'
    r'getdtablesize|exit|open'
    r')\s*\(|\bGlibc\.')
STRIP = re.compile(r'"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|//[^\n]*|/\*[\s\S]*?\*/')


def blank(match):
    # Keeps line numbers: a stripped comment or string leaves its newlines.
    newlines = '\n' * match.group(0).count('\n')
    return '""' + newlines if match.group(0).startswith('"') else newlines


def layer_violations(path, text):
    if str(path).startswith(LAYER):
        return
    for m in re.finditer(r'^import\s+Glibc\b', text, re.M):
        yield f"{path}:{line_of(text, m.start())}: imports Glibc outside the syscall layer"
    code = STRIP.sub(blank, text)
    for m in RAW_CALL.finditer(code):
        call = m.group(0).rstrip('(').strip()
        yield f"{path}:{line_of(code, m.start())}: raw call {call}(...) outside the syscall layer (use the layer's wrapper)"


ERROR_TYPES = {
    'Sources/LibVFIO': {'VFIOError', 'Mismatch'},
    'Sources/LibLiveUpdate': {'LiveUpdateError'},
}
ERROR_DECL = re.compile(r'\b(?:enum|struct|class|actor)\s+(\w+)\s*(?:<[^>]*>)?\s*:\s*([^{]*)\{')


def error_type_violations(path, text):
    allowed = next((v for k, v in ERROR_TYPES.items() if str(path).startswith(k + '/')), None)
    if allowed is None:
        return
    code = STRIP.sub(blank, text)
    for m in ERROR_DECL.finditer(code):
        conformances = {c.strip() for c in m.group(2).split(',')}
        if 'Error' in conformances and m.group(1) not in allowed:
            yield f"{path}:{line_of(code, m.start())}: {m.group(1)} is an Error of its own: make it a nested kind of the library's one error type ({', '.join(sorted(allowed - {'Mismatch'}))})"


def main():
    violations = []
    for path in sorted((repo / 'Sources').rglob('*.swift')):
        text = path.read_text()
        rel = path.relative_to(repo)
        violations += naming_violations(rel, text)
        violations += layer_violations(rel, text)
        violations += error_type_violations(rel, text)
    for v in violations:
        print(v)
    if violations:
        print(f"check-sources: {len(violations)} violation(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
