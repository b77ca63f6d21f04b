// SPDX-License-Identifier: GPL-2.0-only
// The harness's own check (no C twin): a parameterized test one of whose cases cancels itself is
// reported by `vfio-selftests run` as one result per case, named by the case's iommu mode, that
// case a skip with its reason and the others passed, not as one passed test.
import Foundation
import LibLiveUpdate
import LibVFIO
import Testing

enum HarnessSelftest {
  /// The case that cancels itself, and its reason.
  static let cancelledMode = IOMMUMode.iommufdCompatType1
  static let reason = "harness_selftest: this case cancels itself, the others pass"

  /// The KTAP `vfio-selftests run` must print for `cancel_one_case` alone.
  static var expectedKTAP: String {
    let lines = IOMMUMode.allCases.enumerated().map { i, mode in
      "    ok \(i + 1) harness_selftest.\(mode.rawValue).cancel_one_case" + (mode == cancelledMode ? " # SKIP \(reason)" : "")
    }
    return (["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: harness_selftest", "    1..\(IOMMUMode.allCases.count)"]
      + lines + ["ok 1 harness_selftest", ""]).joined(separator: "\n")
  }
}

extension Hardware {
  @Suite("harness_selftest", .hangGuard)
  struct HarnessSelftestSuite {
    /// One case per iommu mode; `HarnessSelftest.cancelledMode`'s cancels itself.
    @Test(arguments: IOMMUMode.allCases) func cancel_one_case(_ mode: IOMMUMode) throws {
      let current = try #require(Test.Case.current, "no current test case inside a parameterized test")
      #expect(current.isParameterized)
      if mode == HarnessSelftest.cancelledMode { try Test.cancel(Comment(rawValue: HarnessSelftest.reason)) }
    }

    /// `vfio-selftests run` on `cancel_one_case` alone: one KTAP line per case, exactly.
    @Test func cases_reported_per_case() throws {
      if let missing = SelftestsCLI.missing { try Test.cancel(Comment(rawValue: missing)) }
      guard geteuid() == 0 else { try Test.cancel("not root (vfio-selftests run needs root)") }
      let id = "VFIOHardwareTests.Hardware/HarnessSelftestSuite/cancel_one_case"
      // The device under test, named, so the report is one run's (not one per journaled device).
      let device = try SelftestsEnvironment.current.address(.bdf).map { [$0.description] } ?? []
      let r = try SelftestsCLI.run(["run", "--filter", NSRegularExpression.escapedPattern(for: id), "--ktap", "-"] + device)
      #expect(r.status == 0, "vfio-selftests run: \(r)")
      #expect(r.stdout == HarnessSelftest.expectedKTAP)
    }

    /// The subject of `strict_requirement_fails`: nothing but the `.liveUpdate` trait, whose
    /// `prepare(for:)` skips without `/dev/liveupdate`, or throws under `VFIO_SELFTESTS_STRICT`.
    @Test(.liveUpdate) func strict_requirement_subject() {}

    /// A strict requirement that a trait finds missing fails its test: `vfio-selftests run` with
    /// `VFIO_SELFTESTS_STRICT=liveupdate` on a kernel without `/dev/liveupdate` reports
    /// `strict_requirement_subject` as `not ok`, saying why, and exits 1. (Swift Testing drops an
    /// `Issue.record` made in `prepare(for:)`, so a trait that recorded the failure let it pass.)
    @Test func strict_requirement_fails() throws {
      if let missing = SelftestsCLI.missing { try Test.cancel(Comment(rawValue: missing)) }
      guard geteuid() == 0 else { try Test.cancel("not root (vfio-selftests run needs root)") }
      guard let reason = LiveUpdateCapabilities.deviceUnavailability() else {
        try Test.cancel("this kernel has /dev/liveupdate: no missing capability to be strict about")
      }
      let id = "VFIOHardwareTests.Hardware/HarnessSelftestSuite/strict_requirement_subject"
      let r = try SelftestsCLI.run(["run", "--filter", NSRegularExpression.escapedPattern(for: id), "--ktap", "-"],
                                   environment: ["VFIO_SELFTESTS_STRICT": "liveupdate"])
      #expect(r.status == 1, "vfio-selftests run: \(r)")
      #expect(r.stdout.contains("not ok 1 harness_selftest"), "vfio-selftests run: \(r)")
      #expect(!r.stdout.contains("# SKIP"), "vfio-selftests run: \(r)")
      #expect((r.stdout + r.stderr).contains("VFIO_SELFTESTS_STRICT: \(reason)"), "vfio-selftests run: \(r)")
    }
  }
}
