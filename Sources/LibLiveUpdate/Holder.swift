// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import LibVFIO
import SystemPackage

/// The stage-1 holder: a child process that keeps session fds open until kexec (closing an
/// outgoing session unpreserves it), like the C `daemonize_and_wait()`. The fork happens in the
/// C shim; the child runs no Swift code and keeps exactly the fds it was given.
public struct LiveUpdateHolder: Sendable {
  /// Where holder pid files live (tmpfs: gone after kexec or reboot).
  public let directory: String

  public init(directory: String = "/run/vfio-selftests/holders") {
    self.directory = directory
  }

  func pidFile(_ name: String) -> String { "\(directory)/\(name).pid" }

  /// The pid of a live holder registered under `name`, if any.
  public func runningHolder(_ name: String) -> Int32? {
    guard case .success(let text) = FileSystem.read(pidFile(name)), let pid = Int32(text.trimmingWhitespace()) else { return nil }
    return Syscalls.processExists(pid) ? pid : nil
  }

  /// Fails with `.holderRunning` when an earlier stage-1 run's holder for `name` is alive.
  public func checkNoHolder(_ name: String) throws(LiveUpdateError) {
    if let pid = runningHolder(name) { throw .holderRunning(name: name, pid: pid) }
  }

  /// Forks a holder keeping `sessions` (and `others`: a device fd, an iommufd, a memfd whose
  /// state must outlive this process, as the C fork keeps everything) open, registers it under
  /// `name` and gives up this process's ownership of the session fds. Returns the holder's pid.
  @discardableResult
  public func hold(_ sessions: [LiveUpdateSession], alsoKeeping others: [FileDescriptor] = [], name: String) throws(LiveUpdateError) -> Int32 {
    try checkNoHolder(name)
    let fds = sessions.compactMap { $0.fd?.rawValue } + others.map(\.rawValue)
    let maxfd = Int32(max(LiveUpdateSyscalls.descriptorTableSize(), (fds.max() ?? 0) + 1))
    let pid = try LiveUpdateSyscalls.forkHolder(keeping: fds, maxfd: maxfd).get("fork(holder)", name)
    // The child holds them now; this process's copies may close with it.
    for s in sessions { if let fd = s.release() { LiveUpdateSyscalls.close(fd) } }
    // Registered, or not kept: an unregistered holder could be stacked by the next run.
    if case .failure(let e) = FileSystem.makeDirectories(directory).flatMap({ FileSystem.create(pidFile(name), "\(pid)\n") }) {
      _ = Syscalls.sendSignal(.kill, to: pid)
      LiveUpdateSyscalls.waitForExit(pid)
      throw .syscall(operation: "write(\(pidFile(name)))", object: name, errno: e)
    }
    print("[STAGE 1] Child PID: \(pid). Resources are pinned.")
    print("[STAGE 1] You may now perform kexec reboot.")
    return pid
  }
}
