// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import Testing

/// The Swift port of vfio_mig_get_next_state() against the combination paths its comment lists
/// (all optional features supported), the blocked arcs, and the feature-dependent skipping.
@Suite struct MigrationFSMTests {
  typealias S = MigrationState
  static let all: MigrationFlags = [.stopCopy, .p2p, .preCopy]

  static func parse(_ s: String) -> [S] {
    s.split(separator: " ").filter { $0 != "->" }.map { name in
      S.allCases.first { $0.description == name }!
    }
  }

  /// The "steps through multiple states" list of drivers/vfio/vfio_main.c, verbatim.
  static let documented = [
    "PRE_COPY -> PRE_COPY_P2P -> STOP_COPY", "PRE_COPY -> RUNNING -> RUNNING_P2P",
    "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP", "PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP -> RESUMING",
    "PRE_COPY_P2P -> RUNNING_P2P -> RUNNING", "PRE_COPY_P2P -> RUNNING_P2P -> STOP",
    "PRE_COPY_P2P -> RUNNING_P2P -> STOP -> RESUMING", "RESUMING -> STOP -> RUNNING_P2P",
    "RESUMING -> STOP -> RUNNING_P2P -> PRE_COPY_P2P", "RESUMING -> STOP -> RUNNING_P2P -> RUNNING",
    "RESUMING -> STOP -> RUNNING_P2P -> RUNNING -> PRE_COPY", "RESUMING -> STOP -> STOP_COPY",
    "RUNNING -> RUNNING_P2P -> PRE_COPY_P2P", "RUNNING -> RUNNING_P2P -> STOP",
    "RUNNING -> RUNNING_P2P -> STOP -> RESUMING", "RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY",
    "RUNNING_P2P -> RUNNING -> PRE_COPY", "RUNNING_P2P -> STOP -> RESUMING", "RUNNING_P2P -> STOP -> STOP_COPY",
    "STOP -> RUNNING_P2P -> PRE_COPY_P2P", "STOP -> RUNNING_P2P -> RUNNING", "STOP -> RUNNING_P2P -> RUNNING -> PRE_COPY",
    "STOP_COPY -> STOP -> RESUMING", "STOP_COPY -> STOP -> RUNNING_P2P", "STOP_COPY -> STOP -> RUNNING_P2P -> RUNNING",
  ]

  @Test(arguments: documented)
  func documentedCombinationPath(_ text: String) {
    let states = Self.parse(text)
    #expect(MigrationFSM.path(from: states[0], to: states.last!.rawValue, flags: Self.all) == Array(states.dropFirst()))
  }

  @Test func blockedArcs() {
    #expect(MigrationFSM.path(from: .stopCopy, to: S.preCopy.rawValue, flags: Self.all) == nil)
    #expect(MigrationFSM.path(from: .stopCopy, to: S.preCopyP2P.rawValue, flags: Self.all) == nil)
    for s in S.allCases where s != .error {
      #expect(MigrationFSM.path(from: s, to: S.error.rawValue, flags: Self.all) == nil, "ERROR cannot be requested")
      #expect(MigrationFSM.path(from: s, to: 8, flags: Self.all) == nil, "past VFIO_DEVICE_STATE_NR")
    }
  }

  @Test func stopCopyOnlySkipsOptionalStates() {
    let flags: MigrationFlags = .stopCopy
    #expect(MigrationFSM.path(from: .running, to: S.stop.rawValue, flags: flags) == [.stop])
    #expect(MigrationFSM.path(from: .stop, to: S.running.rawValue, flags: flags) == [.running])
    #expect(MigrationFSM.path(from: .running, to: S.stopCopy.rawValue, flags: flags) == [.stop, .stopCopy])
    #expect(MigrationFSM.path(from: .running, to: S.runningP2P.rawValue, flags: flags) == nil)
    #expect(MigrationFSM.path(from: .running, to: S.preCopy.rawValue, flags: flags) == nil)
  }

  @Test func dataFDOnlyWhenTheLastArcOpensASession() {
    #expect(MigrationFSM.setReturnsDataFD(from: .running, to: .stopCopy, flags: Self.all))
    #expect(MigrationFSM.setReturnsDataFD(from: .stopCopy, to: .resuming, flags: Self.all))
    #expect(!MigrationFSM.setReturnsDataFD(from: .preCopy, to: .stopCopy, flags: Self.all), "the PRE_COPY session continues")
    #expect(!MigrationFSM.setReturnsDataFD(from: .resuming, to: .running, flags: Self.all))
  }
}
