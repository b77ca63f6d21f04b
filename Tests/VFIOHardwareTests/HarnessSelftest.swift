// SPDX-License-Identifier: GPL-2.0-only
// The harness's own check (no C twin): a parameterized test one of whose cases cancels itself is
// reported by `vfio-selftests run` as one result per case, named by the case's iommu mode, that
// case a skip with its reason and the others passed, not as one passed test.
import Foundation
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
  }
}
