// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import SystemPackage
import Testing

@Suite("Error paths without hardware")
struct ErrorPathTests {
  // MARK: IOMMU(mode:paths:)

  @Test("a missing container or iommufd node is an open() ENOENT naming the mode", arguments: IOMMUMode.allCases)
  func missingNode(_ mode: IOMMUMode) throws {
    let f = try SysfsFixture()
    let path = mode.containerPath.map { f.dev + $0.dropFirst("/dev".count) } ?? "\(f.dev)/iommu"
    #expect(throws: VFIOError.syscall(operation: "open(\(path))", device: mode.rawValue, errno: .noSuchFileOrDirectory)) {
      _ = try IOMMU(mode: mode, paths: f.paths)
    }
  }

  @Test func containerThatIsARegularFileFailsGetAPIVersionWithENOTTY() throws {
    let f = try SysfsFixture()
    try f.mkdir("\(f.dev)/vfio")
    try f.write("\(f.dev)/vfio/vfio", "")
    for mode in [IOMMUMode.vfioType1, .vfioType1v2] {
      // The device of this error is the container path, not the mode name.
      #expect(throws: VFIOError.syscall(operation: "ioctl(VFIO_GET_API_VERSION)", device: "\(f.dev)/vfio/vfio", errno: .inappropriateIOCTLForDevice)) {
        _ = try IOMMU(mode: mode, paths: f.paths)
      }
    }
  }

  @Test func iommuThatIsARegularFile() throws {
    let f = try SysfsFixture()
    try f.write("\(f.dev)/iommu", "")
    for mode in [IOMMUMode.iommufdCompatType1, .iommufdCompatType1v2] {
      #expect(throws: VFIOError.syscall(operation: "ioctl(VFIO_GET_API_VERSION)", device: "\(f.dev)/iommu", errno: .inappropriateIOCTLForDevice)) {
        _ = try IOMMU(mode: mode, paths: f.paths)
      }
    }
    #expect(throws: VFIOError.syscall(operation: "ioctl(IOMMU_IOAS_ALLOC)", device: "\(f.dev)/iommu", errno: .inappropriateIOCTLForDevice)) {
      _ = try IOMMU(mode: .iommufd, paths: f.paths)
    }
  }

  @Test(.enabled(if: geteuid() != 0, "root ignores file modes"))
  func unreadableNodeIsEACCESForNonRoot() throws {
    let f = try SysfsFixture()
    try f.write("\(f.dev)/iommu", "")
    try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: "\(f.dev)/iommu")
    #expect(throws: VFIOError.syscall(operation: "open(\(f.dev)/iommu)", device: "iommufd", errno: .permissionDenied)) {
      _ = try IOMMU(mode: .iommufd, paths: f.paths)
    }
  }

  // VFIOPCIDevice(address:iommu:sysfs:) for a missing device is not tested here: it needs an IOMMU,
  // and IOMMU.init only succeeds on a real /dev/vfio/vfio (VFIO_GET_API_VERSION) or /dev/iommu
  // (IOMMU_IOAS_ALLOC), which this host does not have.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/iommu") && geteuid() == 0, "needs /dev/iommu and root"))
  func deviceInitOnMissingDevice() throws {
    let f = try SysfsFixture()
    let iommu = try IOMMU(mode: .iommufd)
    #expect(throws: VFIOError.noSuchDevice("0000:00:09.0")) {
      _ = try VFIOPCIDevice(address: SysfsFixture.missing, iommu: iommu, sysfs: f.sysfs)
    }
  }

  // MARK: VFIOError

  @Test func syscallDescriptionNamesOperationDeviceAndErrno() {
    let e = VFIOError.syscall(operation: "ioctl(VFIO_GROUP_GET_DEVICE_FD)", device: "0000:00:03.0", errno: .resourceBusy)
    #expect(e.description.hasPrefix("ioctl(VFIO_GROUP_GET_DEVICE_FD) failed for 0000:00:03.0: EBUSY (16): "))
    #expect(e.description.contains("ioctl(VFIO_GROUP_GET_DEVICE_FD)"))
    #expect(e.description.contains("0000:00:03.0"))
    #expect(e.description.contains("EBUSY"))
    #expect(e.errno == .resourceBusy)
    #expect(VFIOError.noSuchDevice("0000:00:09.0").errno == nil)
  }

  @Test("errno names", arguments: [
    (Errno.notPermitted, "EPERM"), (.noSuchFileOrDirectory, "ENOENT"), (.ioError, "EIO"), (.badFileDescriptor, "EBADF"),
    (.resourceTemporarilyUnavailable, "EAGAIN"), (.noMemory, "ENOMEM"), (.permissionDenied, "EACCES"), (.badAddress, "EFAULT"),
    (.resourceBusy, "EBUSY"), (.fileExists, "EEXIST"), (.operationNotSupportedByDevice, "ENODEV"), (.invalidArgument, "EINVAL"),
    (.inappropriateIOCTLForDevice, "ENOTTY"), (.noSpace, "ENOSPC"), (.outOfRange, "ERANGE"), (.messageTooLong, "EMSGSIZE"),
    (.timedOut, "ETIMEDOUT"), (Errno(rawValue: 999), "errno 999"),
  ])
  func errnoName(_ e: Errno, _ name: String) {
    #expect(Errno.name(of: e) == name)
  }

  @Test func otherDescriptions() {
    #expect(VFIOError.invalidAddress("00:03").description == "invalid PCI address '00:03': expected DDDD:BB:DD.F or BB:DD.F (hex)")
    #expect(VFIOError.noSuchDevice("0000:00:09.0").description == "no PCI device 0000:00:09.0 (nothing at /sys/bus/pci/devices/0000:00:09.0)")
    #expect(VFIOError.unexpected(operation: "bind to vfio-pci", device: "0000:00:03.0", detail: "still virtio-pci").description
      == "bind to vfio-pci on 0000:00:03.0: still virtio-pci")
  }

  // MARK: KernelModules

  @Test func modulesDirectoryWithoutTheModule() throws {
    let dir = FileManager.default.temporaryDirectory.path + "/libvfio-modules-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let modules = try KernelModules(directory: dir)
    #expect(modules.directory == dir)
    #expect(throws: VFIOError.moduleLoad(.notFound(module: "vfio-pci", directory: dir))) { try modules.load("vfio-pci") }
    #expect(throws: VFIOError.moduleLoad(.notFound(module: "vfio-pci", directory: dir))) { try modules.unload("vfio-pci") }
    #expect(modules.state("vfio-pci") == .notFound)
    #expect(KernelModules.LoadError.notFound(module: "vfio-pci", directory: dir).description
      == "module vfio-pci: not found (no such module or built-in in \(dir))")
  }

  @Test func kernelReleaseIsUname() {
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    #expect(KernelModules.kernelRelease() == release)
    #expect(!release.isEmpty)
  }

  /// A finding's fix is named in the release by scripts/build-test-kernel.sh: `+<tag>`, exactly.
  @Test func kernelFindingFixIsATagOfTheRelease() {
    let patched = "7.3.4+type1-pfnmap-retry+hugetlb-pin-fallback"
    #expect(KernelFinding.allCases.allSatisfy { $0.isFixed(inRelease: patched) })
    #expect(KernelFinding.type1PFNMapRetry.isFixed(inRelease: "7.3.4+type1-pfnmap-retry"))
    #expect(!KernelFinding.hugetlbPinFallback.isFixed(inRelease: "7.3.4+type1-pfnmap-retry"))
    for release in ["7.3.4", "7.3.4+", "type1-pfnmap-retry", "7.3.4-type1-pfnmap-retry", "7.3.4+type1-pfnmap-retry-v2"] {
      #expect(!KernelFinding.type1PFNMapRetry.isFixed(inRelease: release), "\(release)")
    }
    // Each tag is a patch of docs/findings/patches/ (the build script derives the tag from the name).
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for finding in KernelFinding.allCases {
      let patch = packageRoot.appendingPathComponent("docs/findings/patches/\(finding.rawValue).patch").path
      #expect(FileManager.default.fileExists(atPath: patch), "\(finding): no \(patch)")
    }
  }

  // MARK: HostCapabilities

  @Test func unavailabilityReasonsForMissingNodes() throws {
    let f = try SysfsFixture()
    let host = HostCapabilities(paths: f.paths)
    let noContainer = "no /dev/vfio/vfio (kernel has no VFIO container: vfio not loaded or CONFIG_VFIO_CONTAINER=n)"
    let noIOMMUFD = "kernel has no iommufd (no /dev/iommu)"
    #expect(host.unavailability(of: .vfioType1) == noContainer)
    #expect(host.unavailability(of: .vfioType1v2) == noContainer)
    #expect(host.unavailability(of: .iommufdCompatType1) == noIOMMUFD)
    #expect(host.unavailability(of: .iommufdCompatType1v2) == noIOMMUFD)
    #expect(host.unavailability(of: .iommufd) == noIOMMUFD)
  }

  @Test func unavailabilityWhenTheNodesAreNotVFIO() throws {
    let f = try SysfsFixture()
    try f.mkdir("\(f.dev)/vfio")
    try f.write("\(f.dev)/vfio/vfio", "")
    try f.write("\(f.dev)/iommu", "")
    let host = HostCapabilities(paths: f.paths)
    #expect(host.unavailability(of: .vfioType1) == "ioctl(\(f.dev)/vfio/vfio, VFIO_CHECK_EXTENSION, 1) failed: ENOTTY")
    #expect(host.unavailability(of: .vfioType1v2) == "ioctl(\(f.dev)/vfio/vfio, VFIO_CHECK_EXTENSION, 3) failed: ENOTTY")
    #expect(host.unavailability(of: .iommufdCompatType1) == "ioctl(\(f.dev)/iommu, VFIO_CHECK_EXTENSION, 1) failed: ENOTTY")
    #expect(host.unavailability(of: .iommufdCompatType1v2) == "ioctl(\(f.dev)/iommu, VFIO_CHECK_EXTENSION, 3) failed: ENOTTY")
    // iommufd mode only checks that /dev/iommu exists.
    #expect(host.unavailability(of: .iommufd) == nil)
  }

  @Test func deviceUnavailabilityReasons() throws {
    let f = try SysfsFixture()
    let host = HostCapabilities(paths: f.paths)
    #expect(host.deviceUnavailability(SysfsFixture.missing, mode: .iommufd) == "no PCI device 0000:00:09.0")
    #expect(host.deviceUnavailability(SysfsFixture.virtio, mode: .iommufd)
      == "0000:00:03.0 is bound to virtio-pci, not vfio-pci (run: vfio-selftests setup 0000:00:03.0)")
    #expect(host.deviceUnavailability(SysfsFixture.pf, mode: .vfioType1)
      == "0000:01:00.0 is bound to no driver, not vfio-pci (run: vfio-selftests setup 0000:01:00.0)")

    try f.setDriverLink(SysfsFixture.virtio, "vfio-pci")
    #expect(host.deviceUnavailability(SysfsFixture.virtio, mode: .iommufd) == nil)
    #expect(host.deviceUnavailability(SysfsFixture.virtio, mode: .vfioType1) == nil)
    try f.remove(f.attributePath(SysfsFixture.virtio, "vfio-dev"))
    #expect(host.deviceUnavailability(SysfsFixture.virtio, mode: .iommufd)
      == "kernel has no VFIO cdev for 0000:00:03.0 (no vfio-dev/ in sysfs: CONFIG_VFIO_DEVICE_CDEV=n)")

    try f.setDriverLink(SysfsFixture.vf, "vfio-pci")
    #expect(host.deviceUnavailability(SysfsFixture.vf, mode: .vfioType1v2) == "0000:01:00.1 has no IOMMU group")
  }
}
