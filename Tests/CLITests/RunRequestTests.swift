// SPDX-License-Identifier: GPL-2.0-only
import Glibc
import LibVFIO
import Testing
@testable import VFIOSelftestsCLI

@Suite("run: stage, iommu mode, devices, environment")
struct RunRequestTests {
  @Test(arguments: ["0", "3", "-1", "one", "", "1.0"])
  func stageOtherThan1Or2IsRefused(_ s: String) {
    #expect(throws: RunRequest.Invalid.stage(s)) { try RunRequest(stage: s, iommuMode: nil) }
  }

  @Test func unknownModeIsRefusedWithTheFiveNames() {
    #expect(throws: VFIOError.unknownIOMMUMode("iommufd_compat")) { try RunRequest(stage: nil, iommuMode: "iommufd_compat") }
  }

  @Test func environmentCarriesDeviceStageAndMode() throws {
    let r = try RunRequest(stage: "2", iommuMode: "iommufd", filter: "x")
    let env = r.environment(device: PCIAddress("00:03.0"), base: ["PATH": "/bin", "VFIO_SELFTESTS_BDF": "0000:00:09.0"])
    #expect(env == ["PATH": "/bin", "VFIO_SELFTESTS_BDF": "0000:00:03.0", "VFIO_SELFTESTS_STAGE": "2", "VFIO_SELFTESTS_IOMMU_MODE": "iommufd",
                    "VFIO_SELFTESTS_IOMMU_MODES": "iommufd"])
    #expect(r.environment(device: nil, base: ["VFIO_SELFTESTS_BDF": "0000:00:09.0"])
            == ["VFIO_SELFTESTS_STAGE": "2", "VFIO_SELFTESTS_IOMMU_MODE": "iommufd", "VFIO_SELFTESTS_IOMMU_MODES": "iommufd"])
    #expect(r.arguments() == ["--filter", "x"])
    let s = try RunRequest(stage: nil, iommuMode: nil, filter: "^V\\.", skip: "Kexec")
    #expect(s.arguments() == ["--filter", "^V\\.", "--skip", "Kexec"])
  }

  @Test func devicesNamedThenJournaledThenEnvironment() throws {
    let a = PCIAddress("0000:00:03.0")!, b = PCIAddress("0000:00:04.0")!
    #expect(try RunRequest.devices(named: [a], journaled: [b], environment: SelftestsEnvironment(values: ["VFIO_SELFTESTS_BDF": "00:05.0"])) == [a])
    #expect(try RunRequest.devices(named: [], journaled: [b], environment: SelftestsEnvironment(values: ["VFIO_SELFTESTS_BDF": "00:05.0"])) == [b])
    #expect(try RunRequest.devices(named: [], journaled: [], environment: SelftestsEnvironment(values: ["VFIO_SELFTESTS_BDF": "00:05.0"])) == [PCIAddress("0000:00:05.0")!])
    #expect(try RunRequest.devices(named: [], journaled: [], environment: SelftestsEnvironment(values: [:])) == [])
    #expect(throws: VFIOError.environment(SelftestsEnvironment.Invalid(variable: .bdf, value: "zz", expected: "a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)"))) {
      try RunRequest.devices(named: [], journaled: [], environment: SelftestsEnvironment(values: ["VFIO_SELFTESTS_BDF": "zz"]))
    }
  }

  @Test func extraDevicesGoToBDFSAfterTheDeviceUnderTest() throws {
    let a = PCIAddress("0000:00:03.0")!, b = PCIAddress("0000:00:04.0")!, c = PCIAddress("0000:00:06.0")!
    let r = try RunRequest(stage: nil, iommuMode: nil, extraDevices: [b, a, c])
    #expect(r.environment(device: a, base: [:])["VFIO_SELFTESTS_BDFS"] == "0000:00:03.0 0000:00:04.0 0000:00:06.0")
    #expect(try RunRequest(stage: nil, iommuMode: nil).environment(device: a, base: [:])["VFIO_SELFTESTS_BDFS"] == nil)
  }

  @Test(arguments: [("/nonexistent/x.ktap", ENOENT), ("/proc/x", ENOENT), ("/", EISDIR)])
  func unwritableOutputIsRefusedBeforeTheRun(_ path: String, _ err: Int32) {
    #expect(throws: RunRequest.OutputError(option: "--ktap", path: path, errno: err)) { try RunRequest.checkOutput(path, option: "--ktap") }
  }

  @Test func writableOutputIsCreatedEmpty() throws {
    let path = "/tmp/vfio-selftests-output-check-\(getpid()).xml"
    defer { unlink(path) }
    try RunRequest.checkOutput(path, option: "--junit")
    #expect(access(path, W_OK) == 0)
    try RunRequest.checkOutput("-", option: "--ktap")
  }

}
