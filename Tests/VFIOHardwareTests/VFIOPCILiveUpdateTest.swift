// SPDX-License-Identifier: GPL-2.0-only
// The ports of the VFIO Live Update series' tests (v5, not in Linux 7.3):
// vfio_pci_liveupdate_uapi_test (per iommu mode) and vfio_pci_liveupdate_kexec_test (two stages,
// iommufd mode). On a kernel without the series (plain 7.3), the parts that need vfio-pci's LUO
// file handler skip with the capability reason from a positive probe.
import Glibc
import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

enum VFIOPCILiveUpdateUAPITest {
  /// The fixture: /dev/liveupdate, session "session", the iommu and the device.
  static func withFixture(_ mode: IOMMUMode, _ body: (LiveUpdateSession, VFIOPCIDevice) throws -> Void) throws {
    try withLiveUpdate { luo in
      let session = try luo.createSession("session")
      defer { session.close() }
      try withDevice(mode) { device in try body(session, device) }
    }
  }

  /// `preserve_device`: 0 for a cdev fd (iommufd mode), ENOENT for a group-mode device fd.
  static func preserveDevice(_ mode: IOMMUMode) throws {
    try withFixture(mode) { session, device in
      let r = errnoOf(session.preserveResult(device.fd, token: 0))
      #expect(r == (mode == .iommufd ? nil : .noSuchFileOrDirectory))
    }
  }

  /// `preserve_group_fails`
  static func preserveGroupFails(_ mode: IOMMUMode) throws {
    try withFixture(mode) { session, device in
      let group = try #require(device.group?.fd)
      #expect(errnoOf(session.preserveResult(group, token: 0)) == .noSuchFileOrDirectory)
    }
  }

  /// `preserve_container_fails`
  static func preserveContainerFails(_ mode: IOMMUMode) throws {
    try withFixture(mode) { session, device in
      let container = try #require(device.iommu.containerFD)
      #expect(errnoOf(session.preserveResult(container, token: 0)) == .noSuchFileOrDirectory)
    }
  }
}

extension Hardware {
  @Suite("vfio_pci_liveupdate_uapi_test.vfio_type1_iommu", .liveUpdate, .vfioDevice(.vfioType1), .hangGuard)
  struct VFIOPCILiveUpdateUAPIType1 {
    static let mode = IOMMUMode.vfioType1
    @Test func preserve_device() throws { try VFIOPCILiveUpdateUAPITest.preserveDevice(Self.mode) }
    @Test func preserve_group_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveGroupFails(Self.mode) }
    @Test func preserve_container_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveContainerFails(Self.mode) }
  }

  @Suite("vfio_pci_liveupdate_uapi_test.vfio_type1v2_iommu", .liveUpdate, .vfioDevice(.vfioType1v2), .hangGuard)
  struct VFIOPCILiveUpdateUAPIType1v2 {
    static let mode = IOMMUMode.vfioType1v2
    @Test func preserve_device() throws { try VFIOPCILiveUpdateUAPITest.preserveDevice(Self.mode) }
    @Test func preserve_group_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveGroupFails(Self.mode) }
    @Test func preserve_container_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveContainerFails(Self.mode) }
  }

  @Suite("vfio_pci_liveupdate_uapi_test.iommufd_compat_type1", .liveUpdate, .vfioDevice(.iommufdCompatType1), .hangGuard)
  struct VFIOPCILiveUpdateUAPICompatType1 {
    static let mode = IOMMUMode.iommufdCompatType1
    @Test func preserve_device() throws { try VFIOPCILiveUpdateUAPITest.preserveDevice(Self.mode) }
    @Test func preserve_group_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveGroupFails(Self.mode) }
    @Test func preserve_container_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveContainerFails(Self.mode) }
  }

  @Suite("vfio_pci_liveupdate_uapi_test.iommufd_compat_type1v2", .liveUpdate, .vfioDevice(.iommufdCompatType1v2), .hangGuard)
  struct VFIOPCILiveUpdateUAPICompatType1v2 {
    static let mode = IOMMUMode.iommufdCompatType1v2
    @Test func preserve_device() throws { try VFIOPCILiveUpdateUAPITest.preserveDevice(Self.mode) }
    @Test func preserve_group_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveGroupFails(Self.mode) }
    @Test func preserve_container_fails() throws { try VFIOPCILiveUpdateUAPITest.preserveContainerFails(Self.mode) }
  }

  @Suite("vfio_pci_liveupdate_uapi_test.iommufd", .liveUpdate, .vfioDevice(.iommufd), .hangGuard)
  struct VFIOPCILiveUpdateUAPIIOMMUFD {
    static let mode = IOMMUMode.iommufd
    @Test(.vfioLiveUpdate) func preserve_device() throws { try VFIOPCILiveUpdateUAPITest.preserveDevice(Self.mode) }
    @Test(.disabled("iommufd mode has no group files")) func preserve_group_fails() throws {}
    @Test(.disabled("iommufd mode has no container files")) func preserve_container_fails() throws {}
  }
}
