// SPDX-License-Identifier: GPL-2.0-only
import Testing
@testable import VFIOSelftestsCLI

@Suite("KTAP version 1 writer")
struct KTAPTests {
  @Test func documentNestedByCProgramWithCNamesSkipsAndDiagnostics() throws {
    let run = TestRunResults(records: try EventRecord.parse(stream: Sample.stream))
    #expect(KTAP.document(KTAP.tests(from: run)) == """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: vfio_pci_device_test
          1..4
          ok 1 vfio_pci_device_test.a
          # M/F.swift:9: Expectation failed: (errno → 16) == 22
          not ok 2 vfio_pci_device_test.b _ with hash
          ok 3 vfio_pci_device_test.c # SKIP iommufd: kernel has no iommufd (no /dev/iommu)
          ok 4 vfio_pci_device_test.d # SKIP Device does not support reset
      not ok 1 vfio_pci_device_test

      """)
  }

  @Test func oneTopLevelTestPerDevice() throws {
    let run = TestRunResults(records: try EventRecord.parse(stream: Sample.stream))
    let tests = KTAP.combined([("0000:00:03.0", run, []), ("0000:00:04.0", run, ["test binary killed by signal 9"])])
    #expect(tests.map(\.name) == ["0000:00:03.0", "0000:00:04.0"])
    #expect(tests.map(\.result) == [.notOk, .notOk])
    let doc = KTAP.document(tests)
    #expect(doc.hasPrefix("KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: 0000:00:03.0\n    1..1\n        KTAP version 1\n        # Subtest: vfio_pci_device_test\n"))
    #expect(doc.hasSuffix("# test binary killed by signal 9\nnot ok 2 0000:00:04.0\n"))
  }

  @Test func emptyRunIsAnEmptyPlan() {
    #expect(KTAP.document([]) == "KTAP version 1\n1..0\n")
  }
}
