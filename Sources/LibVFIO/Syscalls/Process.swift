// SPDX-License-Identifier: GPL-2.0-only
// The process-level system calls of the layer: sleeping, signals, identity, the kernel release,
// exit. Thin and typed; nothing above the layer calls Glibc for these.
import CVFIOShim
import Glibc
import SystemPackage

extension Syscalls {
  /// Sleeps `microseconds`, as C's `usleep` (which the ported drivers call): `nanosleep`, the
  /// remaining time slept again after EINTR. No allocation (it sits in polling loops).
  package static func sleep(microseconds: UInt32) {
    var request = timespec(tv_sec: Int(microseconds / 1_000_000), tv_nsec: Int(microseconds % 1_000_000) * 1000)
    var remaining = timespec()
    while unsafe nanosleep(&request, &remaining) == -1 && vst_errno() == EINTR {
      request = remaining
    }
  }

  /// `kill(pid, signal)`: the errno on failure.
  package static func sendSignal(_ signal: Signal, to pid: Int32) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: false) { kill(pid, signal.rawValue) }.map { _ in () }
  }

  /// Whether process `pid` exists (`kill(pid, 0)` succeeds).
  package static func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0
  }

  /// `getpid()`.
  package static var processID: Int32 { getpid() }

  /// `geteuid()`.
  package static var effectiveUserID: UInt32 { geteuid() }

  /// `uname -r`: the running kernel's release.
  package static func kernelRelease() -> String {
    var u = utsname()
    _ = unsafe uname(&u)
    return unsafe withUnsafeBytes(of: u.release) { unsafe String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
  }

  /// `exit(code)`: ends the process (atexit handlers and stdio flushing included).
  package static func exit(_ code: Int32) -> Never {
    Glibc.exit(code)
  }

  /// `raise(signal)`: sends `signal` to this process.
  package static func raise(_ signal: Signal) {
    _ = Glibc.raise(signal.rawValue)
  }

  /// A signal number, named as `<signal.h>` names it.
  package struct Signal: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    package let rawValue: CInt
    package init(rawValue: CInt) { self.rawValue = rawValue }
    package static let interrupt = Signal(rawValue: SIGINT)
    package static let terminate = Signal(rawValue: SIGTERM)
    package static let kill = Signal(rawValue: SIGKILL)
    package static let stop = Signal(rawValue: SIGSTOP)

    /// The C name (`SIGINT`).
    package var description: String {
      switch rawValue {
      case SIGINT: "SIGINT"
      case SIGTERM: "SIGTERM"
      case SIGKILL: "SIGKILL"
      case SIGSTOP: "SIGSTOP"
      default: "signal \(rawValue)"
      }
    }
  }
}

extension Syscalls {
  /// `posix_spawn` of `arguments` (the first is the program's path) with this process's
  /// environment, its stdout the write end of a new pipe and its stderr /dev/null; both pipe ends
  /// are close-on-exec, so the child has no other fd of this process's. The child's pid and the
  /// pipe's read end (the caller's), or the errno. vfio-bench's run_one_test starts the programs
  /// it times so, as bench.c does.
  package static func spawnWithStdoutPipe(_ arguments: [String]) -> Result<(pid: Int32, stdout: FileDescriptor), Errno> {
    var fds: [Int32] = [-1, -1]
    if unsafe pipe(&fds) != 0 { return .failure(Errno(rawValue: vst_errno())) }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    var actions = unsafe posix_spawn_file_actions_t()
    unsafe posix_spawn_file_actions_init(&actions)
    defer { unsafe posix_spawn_file_actions_destroy(&actions) }
    unsafe posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
    unsafe posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = unsafe arguments.map { unsafe strdup($0) } + [nil]
    defer { unsafe argv.forEach { unsafe free($0) } }
    var pid: pid_t = 0
    let r = unsafe posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    close(fds[1])
    if r != 0 {
      close(fds[0])
      return .failure(Errno(rawValue: r))
    }
    return .success((pid, FileDescriptor(rawValue: fds[0])))
  }

  /// Where a child started by `run(_:environment:output:forwarding:)` writes its stdout and stderr.
  package enum ChildOutput: Sendable {
    /// This process's stdout and stderr.
    case inherit
    /// Its stdout to this process's stderr (stdout stays free for a report), stderr as this one's.
    case stdoutToStderr
    /// Both to /dev/null.
    case discard
  }

  /// How a child ended, and the forwarded signal that came while it ran, if one did.
  package struct ChildExit: Sendable {
    /// The raw wait status (`WIFEXITED`/`WEXITSTATUS` apply).
    package var status: Int32
    /// The first of the forwarded signals this process received while the child ran.
    package var forwarded: Signal?
    /// The exit code when the child exited; nil when a signal ended it.
    package var exitCode: Int32? { status & 0x7f == 0 ? (status >> 8) & 0xff : nil }
    /// The signal that ended the child, when one did.
    package var terminatingSignal: Int32? { exitCode == nil ? status & 0x7f : nil }
  }

  /// Runs `arguments` (the first is the program's path) with `environment` (`NAME=value`) to its
  /// end, passing each of `forwarding` this process receives meanwhile on to it: the signals (and
  /// SIGCHLD) are blocked in this thread while the child runs and taken with `sigwaitinfo`, so no
  /// thread, handler or polling interval is involved; the child starts with this thread's old mask
  /// and those signals' default actions. The child's wait status and the first forwarded signal,
  /// or the errno of `posix_spawn` (nothing runs then). Any signal of `forwarding` still pending
  /// when the child has ended is taken too (and reported), not delivered to this process.
  /// SIGCHLD has its default action meanwhile (an ignored SIGCHLD, inherited across exec, would
  /// have the kernel reap the child before `waitpid` could read its status); an error of
  /// `waitpid` itself is returned as its errno.
  package static func run(_ arguments: [String], environment: [String], output: ChildOutput,
                          forwarding: [Signal]) -> Result<ChildExit, Errno> {
    var waited = sigset_t()
    unsafe sigemptyset(&waited)
    unsafe sigaddset(&waited, SIGCHLD)
    for s in forwarding { unsafe sigaddset(&waited, s.rawValue) }
    var defaults = sigset_t()
    unsafe sigemptyset(&defaults)
    for s in forwarding { unsafe sigaddset(&defaults, s.rawValue) }
    var old = sigset_t()
    unsafe pthread_sigmask(SIG_BLOCK, &waited, &old)
    defer { unsafe pthread_sigmask(SIG_SETMASK, &old, nil) }
    let oldChild = Glibc.signal(SIGCHLD, SIG_DFL)
    defer { _ = Glibc.signal(SIGCHLD, oldChild) }

    var attr = posix_spawnattr_t()
    unsafe posix_spawnattr_init(&attr)
    defer { unsafe posix_spawnattr_destroy(&attr) }
    unsafe posix_spawnattr_setsigmask(&attr, &old)
    unsafe posix_spawnattr_setsigdefault(&attr, &defaults)
    unsafe posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = unsafe posix_spawn_file_actions_t()
    unsafe posix_spawn_file_actions_init(&actions)
    defer { unsafe posix_spawn_file_actions_destroy(&actions) }
    switch output {
    case .inherit: break
    case .stdoutToStderr: unsafe posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO)
    case .discard:
      unsafe posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
      unsafe posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
    }
    var argv: [UnsafeMutablePointer<CChar>?] = unsafe arguments.map { unsafe strdup($0) } + [nil]
    defer { unsafe argv.forEach { unsafe free($0) } }
    var envp: [UnsafeMutablePointer<CChar>?] = unsafe environment.map { unsafe strdup($0) } + [nil]
    defer { unsafe envp.forEach { unsafe free($0) } }
    var pid: pid_t = 0
    let r = unsafe posix_spawn(&pid, arguments[0], &actions, &attr, &argv, &envp)
    if r != 0 { return .failure(Errno(rawValue: r)) }

    var forwarded: Signal?
    var status: Int32 = 0
    var info = unsafe siginfo_t()
    while true {
      let w = unsafe waitpid(pid, &status, WNOHANG)
      if w == pid { break }
      if w == -1 && vst_errno() != EINTR { return .failure(Errno(rawValue: vst_errno())) }
      let sig = unsafe sigwaitinfo(&waited, &info)
      guard sig > 0, sig != SIGCHLD else { continue }
      _ = kill(pid, sig)
      if forwarded == nil { forwarded = Signal(rawValue: sig) }
    }
    // A forwarded signal that came after the child's end is taken, not delivered to this process.
    var now = timespec(tv_sec: 0, tv_nsec: 0)
    while true {
      let sig = unsafe sigtimedwait(&waited, &info, &now)
      if sig <= 0 { break }
      if sig != SIGCHLD, forwarded == nil { forwarded = Signal(rawValue: sig) }
    }
    return .success(ChildExit(status: status, forwarded: forwarded))
  }

  /// `waitpid(pid, &status, 0)` (EINTR retried): the raw wait status, or the errno.
  package static func waitStatus(_ pid: Int32) -> Result<Int32, Errno> {
    var status: Int32 = 0
    return valueOrErrno { unsafe waitpid(pid, &status, 0) }.map { _ in status }
  }
}

extension FileDescriptor {
  /// `eventfd(0, 0)` (EINTR retried): a new eventfd or the errno.
  package static func eventfd() -> Result<FileDescriptor, Errno> {
    valueOrErrno { vst_eventfd(0, 0) }.map { FileDescriptor(rawValue: $0) }
  }

  /// Sets or clears `O_NONBLOCK` (`fcntl(F_GETFL)` then `fcntl(F_SETFL)`): the errno on failure.
  package func setNonblocking(_ nonblocking: Bool) -> Result<Void, Errno> {
    valueOrErrno { fcntl(rawValue, F_GETFL) }.flatMap { flags in
      valueOrErrno { fcntl(rawValue, F_SETFL, nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) }
    }.map { _ in () }
  }
}
