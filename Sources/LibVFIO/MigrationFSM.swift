// SPDX-License-Identifier: GPL-2.0-only
/// The migration state machine as the kernel walks it: a port of `vfio_mig_get_next_state()`
/// (drivers/vfio/vfio_main.c, Linux 7.3), its `vfio_from_fsm_table` and `state_flags_table`.
/// A SET of `new` from `cur` is carried out as the steps this yields; tests use it as the oracle.
public enum MigrationFSM {
  typealias S = MigrationState

  /// `vfio_from_fsm_table[cur][new]`: the next step from `cur` toward `new`, all features on.
  static let fromTable: [S: [S: S]] = [
    .stop: [.stop: .stop, .running: .runningP2P, .preCopy: .runningP2P, .preCopyP2P: .runningP2P,
            .stopCopy: .stopCopy, .resuming: .resuming, .runningP2P: .runningP2P, .error: .error],
    .running: [.stop: .runningP2P, .running: .running, .preCopy: .preCopy, .preCopyP2P: .runningP2P,
               .stopCopy: .runningP2P, .resuming: .runningP2P, .runningP2P: .runningP2P, .error: .error],
    .preCopy: [.stop: .running, .running: .running, .preCopy: .preCopy, .preCopyP2P: .preCopyP2P,
               .stopCopy: .preCopyP2P, .resuming: .running, .runningP2P: .running, .error: .error],
    .preCopyP2P: [.stop: .runningP2P, .running: .runningP2P, .preCopy: .preCopy, .preCopyP2P: .preCopyP2P,
                  .stopCopy: .stopCopy, .resuming: .runningP2P, .runningP2P: .runningP2P, .error: .error],
    .stopCopy: [.stop: .stop, .running: .stop, .preCopy: .error, .preCopyP2P: .error,
                .stopCopy: .stopCopy, .resuming: .stop, .runningP2P: .stop, .error: .error],
    .resuming: [.stop: .stop, .running: .stop, .preCopy: .stop, .preCopyP2P: .stop,
                .stopCopy: .stop, .resuming: .resuming, .runningP2P: .stop, .error: .error],
    .runningP2P: [.stop: .stop, .running: .running, .preCopy: .running, .preCopyP2P: .preCopyP2P,
                  .stopCopy: .stop, .resuming: .stop, .runningP2P: .runningP2P, .error: .error],
    .error: [.stop: .error, .running: .error, .preCopy: .error, .preCopyP2P: .error,
             .stopCopy: .error, .resuming: .error, .runningP2P: .error, .error: .error],
  ]

  /// `state_flags_table`: the migration flags a state needs (ERROR needs all: never settable).
  public static func requiredFlags(_ s: MigrationState) -> UInt64 {
    switch s {
    case .stop, .running, .stopCopy, .resuming: VFIO.MIGRATION_STOP_COPY
    case .preCopy: VFIO.MIGRATION_STOP_COPY | VFIO.MIGRATION_PRE_COPY
    case .preCopyP2P: VFIO.MIGRATION_STOP_COPY | VFIO.MIGRATION_P2P | VFIO.MIGRATION_PRE_COPY
    case .runningP2P: VFIO.MIGRATION_STOP_COPY | VFIO.MIGRATION_P2P
    case .error: ~0
    }
  }

  /// Whether a device with `flags` supports state `s`.
  public static func supports(_ s: MigrationState, _ flags: MigrationFlags) -> Bool {
    requiredFlags(s) & flags.rawValue == requiredFlags(s)
  }

  /// `vfio_mig_get_next_state(cur, new)`: the next step, or nil where the kernel returns -EINVAL
  /// (a state the flags do not support, a value past the enum, or no path).
  public static func nextState(from cur: MigrationState, to new: UInt32, flags: MigrationFlags) -> MigrationState? {
    guard supports(cur, flags) else { return nil }
    guard let target = MigrationState(rawValue: new), supports(target, flags) else { return nil }
    var next = fromTable[cur]![target]!
    while next != .error && !supports(next, flags) {
      next = fromTable[next]![target]!
    }
    return next == .error ? nil : next
  }

  /// The steps a SET of `new` from `cur` walks (empty when `cur == new`), or nil for -EINVAL.
  public static func path(from cur: MigrationState, to new: UInt32, flags: MigrationFlags) -> [MigrationState]? {
    var steps: [MigrationState] = []
    var at = cur
    while at.rawValue != new {
      guard let next = nextState(from: at, to: new, flags: flags), steps.count < 8 else { return nil }
      steps.append(next)
      at = next
    }
    return steps
  }

  /// The arcs that begin a data transfer session and return a new data fd (vfio.h: RUNNING ->
  /// PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> STOP_COPY, STOP -> RESUMING).
  public static func returnsDataFD(from: MigrationState, to: MigrationState) -> Bool {
    switch (from, to) {
    case (.running, .preCopy), (.runningP2P, .preCopyP2P), (.stop, .stopCopy), (.stop, .resuming): true
    default: false
    }
  }

  /// Whether a SET from `cur` to `new` returns a data fd: when the last arc of its path does.
  public static func setReturnsDataFD(from cur: MigrationState, to new: MigrationState, flags: MigrationFlags) -> Bool {
    guard let steps = path(from: cur, to: new.rawValue, flags: flags), let last = steps.last else { return false }
    let before = steps.count >= 2 ? steps[steps.count - 2] : cur
    return returnsDataFD(from: before, to: last)
  }
}
