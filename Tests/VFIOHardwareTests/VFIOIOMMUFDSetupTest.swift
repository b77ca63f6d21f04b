// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_iommufd_setup_test.c: raw cdev and iommufd
// ioctls, no library setup. Fixture `vfio_cdev`: the device's cdev and /dev/iommu, both O_RDWR.
import LibVFIO
import SystemPackage
import Testing

/// The `vfio_cdev` fixture: the cdev and /dev/iommu open for one test, closed after it.
final class VFIOCdevFixture {
  let cdev: FileDescriptor
  let iommufd: FileDescriptor

  init() throws {
    let address = try deviceUnderTest()
    let path = try #require(try PCISysfs().vfioCdevPath(address), "no vfio-dev/ under \(address)")
    print("Using cdev device \(path)")
    let cdev = try FileDescriptor.open(FilePath(path), .readWrite)
    do {
      iommufd = try FileDescriptor.open("/dev/iommu", .readWrite)
    } catch {
      try? cdev.close()
      throw error
    }
    self.cdev = cdev
  }

  deinit {
    try? cdev.close()
    try? iommufd.close()
  }

  func bind(iommufd fd: CInt? = nil) -> Result<UInt32, Errno> {
    VFIOPCIDevice.bindIOMMUFDResult(cdev, iommufd: fd ?? iommufd.rawValue)
  }
}

extension Hardware {
  @Suite("vfio_iommufd_setup_test", .vfioDevice(.iommufd), .hangGuard)
  struct VFIOIOMMUFDSetupTest {
    @Test func bind() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Never.self) { try f.bind().get() }
      #expect(throws: Never.self) { try VFIOPCIDevice.getInfoResult(f.cdev).get() }
    }

    @Test func get_info_without_bind_fails() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Errno.self) { try VFIOPCIDevice.getInfoResult(f.cdev).get() }
    }

    @Test func bind_bad_iommufd_fails() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Errno.self) { try f.bind(iommufd: -2).get() }
    }

    @Test func repeated_bind_fails() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Never.self) { try f.bind().get() }
      #expect(throws: Errno.self) { try f.bind().get() }
    }

    @Test func attach_detatch_pt() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Never.self) { try f.bind().get() }
      let ioas = try IOMMU.allocateIOASResult(f.iommufd).get()
      #expect(throws: Never.self) { try VFIOPCIDevice.attachIOMMUFDPTResult(f.cdev, ptID: ioas).get() }
      #expect(throws: Never.self) { try VFIOPCIDevice.detachIOMMUFDPTResult(f.cdev).get() }
    }

    @Test func attach_invalid_pt_fails() throws {
      let f = try VFIOCdevFixture()
      #expect(throws: Never.self) { try f.bind().get() }
      #expect(throws: Errno.self) { try VFIOPCIDevice.attachIOMMUFDPTResult(f.cdev, ptID: UInt32.max).get() }
    }
  }
}
