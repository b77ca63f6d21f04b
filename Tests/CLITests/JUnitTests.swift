// SPDX-License-Identifier: GPL-2.0-only
import Testing
@testable import VFIOSelftestsCLI

@Suite("JUnit from the results model")
struct JUnitTests {
  @Test func sameOutcomesAsKTAPWithReasonsAndTimes() throws {
    var lines = Sample.lines
    // a ran for 1.5 s.
    lines[lines.firstIndex(of: Sample.event("testEnded", Sample.a))!] = Sample.event("testEnded", Sample.a).replacingOccurrences(of: "\"absolute\":1.0", with: "\"absolute\":2.5")
    let run = TestRunResults(records: try EventRecord.parse(stream: lines.joined(separator: "\n") + "\n"))
    let xml = JUnit.document([("0000:00:03.0", run, [])])
    #expect(xml.contains("<testsuite name=\"0000:00:03.0\" tests=\"4\" failures=\"1\" skipped=\"2\" errors=\"0\""))
    #expect(xml.contains("<testcase classname=\"vfio_pci_device_test\" name=\"vfio_pci_device_test.a\" time=\"1.500\"/>"))
    #expect(xml.contains("<failure message=\"M/F.swift:9: Expectation failed: (errno → 16) == 22\">"))
    #expect(xml.contains("name=\"vfio_pci_device_test.c\">\n      <skipped message=\"iommufd: kernel has no iommufd (no /dev/iommu)\"/>"))
    // A cancelled test is a skip with its reason, not a pass.
    #expect(xml.contains("name=\"vfio_pci_device_test.d\" time=\"0.000\">\n      <skipped message=\"Device does not support reset\"/>"))
  }

  @Test func aKilledBinaryIsAFailedCase() {
    let xml = JUnit.document([("0000:00:03.0", TestRunResults(records: []), ["test binary killed by signal 9"])])
    #expect(xml.contains("tests=\"1\" failures=\"1\""))
    #expect(xml.contains("name=\"test binary\">\n      <failure message=\"test binary killed by signal 9\">"))
  }

  @Test func escapesMarkupAndControlCharacters() {
    #expect(JUnit.escape("a<b>&\"c\"\u{1}\nd") == "a&lt;b&gt;&amp;&quot;c&quot; &#10;d")
    #expect(JUnit.format(1.0004) == "1.000")
    #expect(JUnit.format(12.3456) == "12.346")
  }
}
