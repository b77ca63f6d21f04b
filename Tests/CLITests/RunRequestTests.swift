import LibVFIO
import Testing
import VFIOSelftestsCLI

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
    #expect(env == ["PATH": "/bin", "VFIO_SELFTESTS_BDF": "0000:00:03.0", "VFIO_SELFTESTS_STAGE": "2", "VFIO_SELFTESTS_IOMMU_MODE": "iommufd"])
    #expect(r.environment(device: nil, base: ["VFIO_SELFTESTS_BDF": "0000:00:09.0"]) == ["VFIO_SELFTESTS_STAGE": "2", "VFIO_SELFTESTS_IOMMU_MODE": "iommufd"])
    #expect(r.arguments(eventStream: "/tmp/e", junit: "/tmp/j.xml") == [
      "--testing-library", "swift-testing", "--event-stream-output-path", "/tmp/e", "--event-stream-version", "0",
      "--xunit-output", "/tmp/j.xml", "--filter", "x"])
  }

  @Test func devicesNamedThenJournaledThenEnvironment() throws {
    let a = PCIAddress("0000:00:03.0")!, b = PCIAddress("0000:00:04.0")!
    #expect(try RunRequest.devices(named: [a], journaled: [b], environment: ["VFIO_SELFTESTS_BDF": "00:05.0"]) == [a])
    #expect(try RunRequest.devices(named: [], journaled: [b], environment: ["VFIO_SELFTESTS_BDF": "00:05.0"]) == [b])
    #expect(try RunRequest.devices(named: [], journaled: [], environment: ["VFIO_SELFTESTS_BDF": "00:05.0"]) == [PCIAddress("0000:00:05.0")!])
    #expect(try RunRequest.devices(named: [], journaled: [], environment: [:]) == [])
    #expect(throws: VFIOError.invalidAddress("zz")) { try RunRequest.devices(named: [], journaled: [], environment: ["VFIO_SELFTESTS_BDF": "zz"]) }
  }

  @Test func junitPathPerDevice() {
    let a = PCIAddress("0000:00:03.0")!
    #expect(RunRequest.junitPath("/r/junit.xml", device: a, deviceCount: 1) == "/r/junit.xml")
    #expect(RunRequest.junitPath("/r/junit.xml", device: a, deviceCount: 2) == "/r/junit.0000_00_03.0.xml")
    #expect(RunRequest.junitPath("/r.d/junit", device: a, deviceCount: 2) == "/r.d/junit.0000_00_03.0")
  }
}
