// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import SystemPackage

/// Every failure LibLiveUpdate reports, naming the operation, the session and the errno.
public enum LiveUpdateError: Error, Equatable, CustomStringConvertible, Sendable {
  /// A system call failed (`ioctl(LIVEUPDATE_IOCTL_CREATE_SESSION)` on session `name`, ...).
  case syscall(operation: String, object: String, errno: Errno)
  /// A session name the kernel cannot hold (over 63 bytes); never silently truncated.
  case sessionNameTooLong(name: String, bytes: Int)
  /// A preserved memfd came back with other contents.
  case dataMismatch(token: UInt64, expected: String, got: String)
  /// The stage asked for is not the stage the machine is in (`luo_test()`'s check).
  case stageMismatch(requested: Int, detected: Int, stateSession: String, exists: Bool)
  /// A stage other than 1 or 2.
  case invalidStage(String)
  /// The state session holds no stage number.
  case invalidStageRecord(session: String, contents: String)
  /// A holder from an earlier stage-1 run still keeps its sessions alive.
  case holderRunning(name: String, pid: Int32)

  public var errno: Errno? {
    if case .syscall(_, _, let e) = self { return e }
    return nil
  }

  public var description: String {
    switch self {
    case .syscall(let op, let obj, let e):
      e.failureDescription(operation: op, object: obj)
    case .sessionNameTooLong(let name, let bytes):
      "session name '\(name)' is \(bytes) bytes; Live Update session names are at most \(LiveUpdate.maxSessionNameLength)"
    case .dataMismatch(let token, let expected, let got):
      "memfd with token 0x\(String(token, radix: 16)): data mismatch! Expected '\(expected)', Got '\(got)'"
    case .stageMismatch(let requested, let detected, let session, let exists):
      "Stage mismatch Requested stage \(requested), but system is in stage \(detected). (State session \(session): \(exists ? "EXISTS" : "MISSING"))"
    case .invalidStage(let s):
      "invalid stage '\(s)': must be 1 or 2"
    case .invalidStageRecord(let session, let contents):
      "state session \(session) holds no stage number: '\(contents)'"
    case .holderRunning(let name, let pid):
      "a stage-1 holder for \(name) is still running (pid \(pid)): kexec, or kill it to discard its sessions, before another stage-1 run"
    }
  }
}

extension Result where Failure == Errno {
  func get(_ operation: @autoclosure () -> String, _ object: @autoclosure () -> String) throws(LiveUpdateError) -> Success {
    switch self {
    case .success(let v): return v
    case .failure(let e): throw .syscall(operation: operation(), object: object(), errno: e)
    }
  }
}
