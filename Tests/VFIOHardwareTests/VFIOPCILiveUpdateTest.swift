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
  @Suite("vfio_pci_liveupdate_uapi_test", .liveUpdate, .tags(.iommuModes), .hangGuard)
  struct VFIOPCILiveUpdateUAPISuite {
    @Test(arguments: try IOMMUMode.underTest()) func preserve_device(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      if mode == .iommufd { try requireVFIOLiveUpdate() }
      try VFIOPCILiveUpdateUAPITest.preserveDevice(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func preserve_group_fails(_ mode: IOMMUMode) throws {
      if mode == .iommufd { try Test.cancel("iommufd mode has no group files") }
      try requireVFIODevice(mode)
      try VFIOPCILiveUpdateUAPITest.preserveGroupFails(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func preserve_container_fails(_ mode: IOMMUMode) throws {
      if mode == .iommufd { try Test.cancel("iommufd mode has no container files") }
      try requireVFIODevice(mode)
      try VFIOPCILiveUpdateUAPITest.preserveContainerFails(mode)
    }
  }
}
