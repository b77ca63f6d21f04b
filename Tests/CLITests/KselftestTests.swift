// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing
@testable import VFIOSelftestsCLI

@Suite("kselftest programs: C's arguments, selection by C name, the harness's TAP")
struct KselftestTests {
  let device = KselftestProgram.named("vfio_pci_device_test")!
  let initPerf = KselftestProgram.named("vfio_pci_device_init_perf_test")!
  let kexec = KselftestProgram.named("luo_kexec_simple")!

  @Test func listIsTheKernelsPlusThePortsOwn() {
    // C's gen_tar of vfio + liveupdate (with the series) lists these, in this order; the port adds
    // its own two vfio programs; the kexec programs are TEST_GEN_PROGS_EXTENDED (not listed).
    #expect(KselftestProgram.listText == """
      vfio:vfio_dma_mapping_test
      vfio:vfio_dma_mapping_mmio_test
      vfio:vfio_iommufd_setup_test
      vfio:vfio_pci_device_test
      vfio:vfio_pci_device_init_perf_test
      vfio:vfio_pci_driver_test
      vfio:vfio_pci_sriov_uapi_test
      vfio:vfio_pci_liveupdate_uapi_test
      vfio:vfio_pci_reset_mmap_test
      vfio:vfio_migration_test
      liveupdate:liveupdate

      """)
    #expect(KselftestProgram.all.filter(\.staged).map(\.name).sorted()
            == ["luo_kexec_simple", "luo_multi_session", "luo_stress_files", "luo_stress_sessions", "vfio_pci_liveupdate_kexec_test"])
  }

  @Test func trailingBDFsAreTheDevices() throws {
    let a = try KselftestArguments(parsing: ["-r", "vfio_pci_device_test.reset", "0000:00:03.0", "00:04.0"], program: initPerf)
    #expect(a.devices == [PCIAddress("0000:00:03.0")!, PCIAddress("0000:00:04.0")!])
    #expect(a.filters == [.run("vfio_pci_device_test.reset")])
    #expect(try KselftestArguments(parsing: [], program: device).devices.isEmpty)
  }

  @Test(arguments: [
    (["-x"], "invalid option -x"),
    (["-r"], "option -r requires an argument"),
    (["0000:00:03.0", "-l"], "device 0000:00:03.0 must come after the options"),
  ])
  func badArguments(_ args: [String], _ message: String) {
    #expect(throws: KselftestArguments.Invalid(description: message)) { try KselftestArguments(parsing: args, program: device) }
  }

  @Test func kexecProgramsTakeAStageOnly() throws {
    #expect(try KselftestArguments(parsing: ["-s", "2"], program: kexec).stage == 2)
    #expect(try KselftestArguments(parsing: [], program: kexec).stage == nil)
    #expect(throws: KselftestArguments.Invalid(description: "Invalid stage argument '3': expected 1 or 2")) {
      try KselftestArguments(parsing: ["-s", "3"], program: kexec)
    }
    #expect(throws: KselftestArguments.Invalid(description: "Unknown argument -l")) { try KselftestArguments(parsing: ["-l"], program: kexec) }
    #expect(throws: KselftestArguments.Invalid(description: "invalid option -s")) { try KselftestArguments(parsing: ["-s", "1"], program: device) }
  }

  /// kselftest_harness.h `test_enabled()`: the first matching filter decides; with no positive
  /// filter, everything not excluded runs.
  @Test(arguments: [
    ([String](), "f.v.t", true),
    (["-T", "t"], "f.v.t", false),
    (["-T", "t"], "f.v.u", true),
    (["-T", "t", "-v", "v"], "f.v.t", false),
    (["-v", "v", "-T", "t"], "f.v.t", true),
    (["-v", "v"], "f.w.t", false),
    (["-f", "f"], "f.t", true),
    (["-F", "f"], "f.t", false),
    (["-r", "f.v.t"], "f.v.t", true),
    (["-r", "f.v.t"], "f.v.tt", false),
    (["-V", "v"], "f.w.t", true),
  ])
  func harnessFilters(_ args: [String], _ name: String, _ enabled: Bool) throws {
    #expect(try KselftestArguments(parsing: args, program: device).enables(name) == enabled)
  }

  func sampleRun() throws -> TestRunResults { TestRunResults(records: try EventRecord.parse(stream: Sample.stream)) }

  @Test func selectionIsByCNameInSourceOrder() throws {
    let run = try sampleRun()
    let all = KselftestSelection(declarations: run, program: device, arguments: KselftestArguments())
    #expect(all.entries.map(\.cName) == ["vfio_pci_device_test.a", "vfio_pci_device_test.b # with hash", "vfio_pci_device_test.c", "vfio_pci_device_test.d"])
    let one = KselftestSelection(declarations: run, program: device, arguments: try KselftestArguments(parsing: ["-r", "vfio_pci_device_test.c"], program: device))
    #expect(one.entries.map(\.id) == [Sample.c])
    // Swift Testing's --filter gets each test's whole ID, escaped and anchored.
    #expect(one.filter == #"^M\.Hardware\/Dev\/c\(\)\/F\.swift:5:4$"#)
    #expect(KselftestSelection(declarations: run, program: kexec, arguments: KselftestArguments()).entries.isEmpty)
  }

  @Test func reportIsTheHarnessTAP() throws {
    let run = try sampleRun()
    let sel = KselftestSelection(declarations: run, program: device, arguments: try KselftestArguments(parsing: ["-T", "b # with hash"], program: device))
    let (text, code) = KselftestReport.document(program: device, selection: sel, run: run, diagnostics: [])
    let results = text.split(separator: "\n").filter { $0.hasPrefix("ok") || $0.hasPrefix("not ok") || $0.hasPrefix("1..") }
    #expect(results == [
      "1..3",
      "ok 1 vfio_pci_device_test.a",
      "ok 2 vfio_pci_device_test.c # SKIP iommufd: kernel has no iommufd (no /dev/iommu)",
      "ok 3 vfio_pci_device_test.d # SKIP Device does not support reset",
    ])
    #expect(text.hasPrefix("TAP version 13\n1..3\n# Starting 3 tests from 1 test cases.\n"))
    #expect(text.hasSuffix("# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:2 error:0\n"))
    #expect(code == KselftestExit.pass)

    let failing = KselftestSelection(declarations: run, program: device, arguments: KselftestArguments())
    let (text2, code2) = KselftestReport.document(program: device, selection: failing, run: run, diagnostics: [])
    // A '#' in a name would start a directive: KTAP's cleaning applies.
    #expect(text2.contains("# M/F.swift:9: Expectation failed: (errno → 16) == 22\n#          FAIL  vfio_pci_device_test.b _ with hash\nnot ok 2 vfio_pci_device_test.b _ with hash\n"))
    #expect(code2 == KselftestExit.fail)
    #expect(text2.contains("# FAILED: 3 / 4 tests passed.\n"))
  }

  @Test func aTestTheBinaryNeverReachedFails() throws {
    let run = try sampleRun()
    let sel = KselftestSelection(declarations: run, program: device, arguments: KselftestArguments())
    let (text, code) = KselftestReport.document(program: device, selection: sel, run: TestRunResults(records: []), diagnostics: ["test binary killed by signal 9"])
    #expect(text.contains("not ok 1 vfio_pci_device_test.a\n"))
    #expect(text.contains("# test binary killed by signal 9\n"))
    #expect(code == KselftestExit.fail)
  }

  @Test func missingCapabilitySkipsTheProgramUnlessStrict() {
    let none: (String) -> Bool = { _ in false }
    let liveupdate = KselftestProgram.named("liveupdate")!
    #expect(device.missingCapability(exists: none, strict: .only([]))?.hasPrefix("kernel has no VFIO") == true)
    #expect(device.missingCapability(exists: { $0 == "/dev/iommu" }, strict: .only([])) == nil)
    #expect(device.missingCapability(exists: none, strict: .only([.iommufd])) == nil)
    #expect(liveupdate.missingCapability(exists: none, strict: .only([.sriov]))?.hasPrefix("no /dev/liveupdate") == true)
    #expect(kexec.missingCapability(exists: none, strict: .all) == nil)
    #expect(liveupdate.missingCapability(exists: { $0 == "/dev/liveupdate" }, strict: .only([])) == nil)
  }

  @Test func wholeProgramSkip() {
    let (text, code) = KselftestReport.skipAll("not root (euid 1000)")
    #expect(text == "TAP version 13\n1..0 # SKIP not root (euid 1000)\n")
    #expect(code == KselftestExit.skip)
  }
}
