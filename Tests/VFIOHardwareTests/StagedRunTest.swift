// SPDX-License-Identifier: GPL-2.0-only
// Proves the guest runner's two-stage mechanism: stage 1 records the boot it ran in; stage 2
// must run in a different boot (a real kexec happened), with the stage marker on the kernel
// command line. The Live Update suites build on the same mechanism.
import Foundation
import LibVFIO
import Testing

enum StagedRun {
  /// A bad value of any of these is an error (`vfio-selftests run` refuses it before the run).
  static func stage() throws -> Int? { try SelftestsEnvironment.current.stage() }
  static func results() throws -> String? { try SelftestsEnvironment.current.path(.results) }
  static func stages() throws -> Int { try SelftestsEnvironment.current.stages() }

  static func bootID() throws -> String {
    try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

// Inside the serialized Hardware suite: as a suite of its own it ran beside the kexec suites'
// tests in stage 2, and TCG runs both vCPUs on one host thread, so it landed in their times
// (docs/benchmark.md, the Live Update programs).
extension Hardware {
  @Suite("staged_run", .hangGuard)
  struct StagedRunTest {
    /// Stage 2 runs after a real kexec.
    @Test(RequiresStagedRun())
    func stage_across_kexec() throws {
      let stage = try #require(try StagedRun.stage())
      let results = try #require(try StagedRun.results())
      let cmdline = try String(contentsOfFile: "/proc/cmdline", encoding: .utf8)
      #expect(cmdline.contains("vfio_selftests.stage=2") == (stage == 2), "stage \(stage) but cmdline: \(cmdline)")
      let bootFile = URL(fileURLWithPath: results).deletingLastPathComponent().appendingPathComponent("stage1/boot_id")
      switch stage {
      case 1:
        try StagedRun.bootID().write(to: bootFile, atomically: false, encoding: .utf8)
        print("[STAGE 1] boot \(try StagedRun.bootID()) recorded; kexec next")
      case 2:
        let before = try String(contentsOf: bootFile, encoding: .utf8)
        let now = try StagedRun.bootID()
        #expect(!before.isEmpty && before != now, "stage 2 runs in the same boot as stage 1 (\(now)): no kexec happened")
        print("[STAGE 2] boot \(now), stage 1 ran in boot \(before)")
      default:
        Issue.record("VFIO_SELFTESTS_STAGE=\(stage): must be 1 or 2")
      }
    }
  }
}
