// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import SystemPackage

/// The stage a two-stage Live Update test is in: 1 before kexec, 2 after.
public enum LiveUpdateStage: Int, Sendable, CustomStringConvertible {
  case beforeKexec = 1
  case afterKexec = 2

  public var description: String { "\(rawValue)" }

  /// Parses `1` or `2` (from `--stage`, `-s`, or `VFIO_SELFTESTS_STAGE`) with the environment's
  /// stage parser.
  public init(parsing text: String) throws(LiveUpdateError) {
    let n: Int
    do throws(SelftestsEnvironment.Mismatch) { n = try SelftestsEnvironment.Parse.stage(text) } catch { throw .invalidStage(text) }
    guard let s = LiveUpdateStage(rawValue: n) else { throw .invalidStage(text) }
    self = s
  }

  /// The stage the machine is in, from looking the state session up (`luo_test()`): found
  /// means stage 2, ENOENT means stage 1, anything else is an error.
  public static func detect(lookup: Result<LiveUpdateSession, Errno>, stateSession: String) throws(LiveUpdateError) -> (LiveUpdateStage, LiveUpdateSession?) {
    switch lookup {
    case .success(let s): return (.afterKexec, s)
    case .failure(.noSuchFileOrDirectory): return (.beforeKexec, nil)
    case .failure(let e): throw .syscall(operation: "ioctl(LIVEUPDATE_IOCTL_RETRIEVE_SESSION) (Failed to check for state session)", object: "session '\(stateSession)'", errno: e)
    }
  }

  /// `luo_test()`'s stage check: the requested stage must be the detected one. In stage 2 the
  /// state session comes back retrieved.
  public static func select(requested: LiveUpdateStage, luo: LiveUpdateDevice, stateSession: String) throws(LiveUpdateError) -> LiveUpdateSession? {
    let lookup: Result<LiveUpdateSession, Errno>
    switch luo.retrieveSessionResult(stateSession) {
    case .success(let s): lookup = .success(s)
    case .failure(let e):
      guard let errno = e.errno else { throw e }
      lookup = .failure(errno)
    }
    let (detected, session) = try detect(lookup: lookup, stateSession: stateSession)
    guard detected == requested else {
      session?.close()
      throw .stageMismatch(requested: requested.rawValue, detected: detected.rawValue, stateSession: stateSession, exists: detected == .afterKexec)
    }
    return session
  }
}

/// The state session that carries the next stage across kexec: a session holding one memfd
/// whose contents are the stage number (`create_state_file` / `restore_and_read_stage`).
public enum StateSession {
  /// Creates session `name` with a memfd under `token` holding `nextStage`. The returned session
  /// must stay open until kexec (hand it to the holder).
  public static func create(_ luo: LiveUpdateDevice, name: String, token: UInt64, nextStage: LiveUpdateStage) throws(LiveUpdateError) -> LiveUpdateSession {
    let session = try luo.createSession(name)
    try Memfd.preserve("\(nextStage.rawValue)", in: session, token: token)
    return session
  }

  /// Reads the stage back from a retrieved state session.
  public static func readStage(_ session: LiveUpdateSession, token: UInt64) throws(LiveUpdateError) -> Int {
    let fd = try Memfd.restore(from: session, token: token, expecting: nil)
    defer { LiveUpdateSyscalls.close(fd) }
    let text = try Memfd.contents(of: fd)
    guard let n = Int(text) else { throw .invalidStageRecord(session: session.name, contents: text) }
    return n
  }
}
