// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// Every failure LibVFIO reports, its one error type: what was attempted, on which device, and
/// why. A failed system call carries its errno; the selftest drivers', edu's, the IOVA
/// allocator's, module loading's and the xe-vfio-pci check's failures are nested kinds, each
/// with its own description.
public enum VFIOError: Error, Equatable, CustomStringConvertible, Sendable {
  /// A system call failed: the operation (`ioctl(VFIO_GROUP_GET_DEVICE_FD)`, `open(/dev/vfio/7)`),
  /// the device or object it was for, and the errno.
  case syscall(operation: String, device: String, errno: Errno)
  /// A PCI address that does not parse as `DDDD:BB:DD.F` or `BB:DD.F`.
  case invalidAddress(String)
  /// An iommu mode name that is not one of the five the C selftests use.
  case unknownIOMMUMode(String)
  /// A VF token that is not a UUID in its 36-character text form.
  case invalidVFToken(String)
  /// A well-formed address with no device behind it in sysfs.
  case noSuchDevice(String)
  /// The kernel answered, but not as the uAPI promises (for example a group that is not viable).
  case unexpected(operation: String, device: String, detail: String)
  /// A selftest driver's library check refused the call (`vfio_check_driver_op` and friends).
  case driver(VFIOPCIDriverError)
  /// A selftest driver failed on its device: C's `VFIO_ASSERT_*` in a driver, a poll that ran
  /// out of time, a C helper's negative errno.
  case driverDevice(VFIOPCIDriverDeviceError)
  /// The edu driver refused a call or found the device wrong.
  case edu(EDUError)
  /// The IOVA allocator could not allocate.
  case iovaAllocation(IOVAAllocator.AllocationError)
  /// Loading or unloading a kernel module failed (libkmod).
  case moduleLoad(KernelModules.LoadError)
  /// A journaled module load failed, and so did unloading what it had brought in: `left` stay
  /// loaded and journaled (`vfio-selftests cleanup` tries again).
  indirect case moduleRollback(VFIOError, left: [String])
  /// The resource journal (`/run/vfio-selftests`) could not record or drop an entry.
  indirect case resourceJournal(VFIOError)
  /// A device the migration suite cannot use: not an xe-vfio-pci VF, or not set up as one.
  case xeVFRefusal(XeVFRefusal)
  /// A `VFIO_SELFTESTS_*` variable whose value does not parse.
  case environment(SelftestsEnvironment.Invalid)

  /// The errno, when the failure is a system call's.
  public var errno: Errno? {
    switch self {
    case .syscall(_, _, let e): e
    case .moduleRollback(let e, _), .resourceJournal(let e): e.errno
    default: nil
    }
  }

  public var description: String {
    switch self {
    case .syscall(let op, let dev, let e):
      return e.failureDescription(operation: op, object: dev)
    case .invalidAddress(let s):
      return "invalid PCI address '\(s)': expected DDDD:BB:DD.F or BB:DD.F (hex)"
    case .unknownIOMMUMode(let s):
      return "unknown iommu mode '\(s)': expected one of \(IOMMUMode.allCases.map(\.rawValue).joined(separator: ", "))"
    case .invalidVFToken(let s):
      return "invalid VF token '\(s)': expected a UUID such as 52ac9bff-3a88-4fbd-901a-0d767c3b6c97"
    case .noSuchDevice(let s):
      return "no PCI device \(s) (nothing at /sys/bus/pci/devices/\(s))"
    case .unexpected(let op, let dev, let detail):
      return "\(op) on \(dev): \(detail)"
    case .driver(let kind): return kind.description
    case .driverDevice(let kind): return kind.description
    case .edu(let kind): return kind.description
    case .iovaAllocation(let kind): return kind.description
    case .moduleLoad(let kind): return kind.description
    case .moduleRollback(let e, let left):
      return "\(e); the modules it had loaded stay loaded: \(left.joined(separator: ", ")) (journaled: vfio-selftests cleanup)"
    case .resourceJournal(let e): return "resource journal: \(e)"
    case .xeVFRefusal(let refusal): return refusal.description
    case .environment(let invalid): return invalid.description
    }
  }
}

extension Errno {
  /// The one shape of a failed system call in LibVFIO's and LibLiveUpdate's errors:
  /// "<operation> failed for <object>: EBUSY (16): <strerror>".
  package func failureDescription(operation: String, object: String) -> String {
    "\(operation) failed for \(object): \(Errno.name(of: self)) (\(rawValue)): \(self)"
  }

  /// The C name of an errno (`EBUSY`), for messages that kernel engineers grep.
  public static func name(of e: Errno) -> String {
    switch e.rawValue {
    case 1: "EPERM"
    case 2: "ENOENT"
    case 3: "ESRCH"
    case 4: "EINTR"
    case 5: "EIO"
    case 6: "ENXIO"
    case 7: "E2BIG"
    case 9: "EBADF"
    case 11: "EAGAIN"
    case 12: "ENOMEM"
    case 13: "EACCES"
    case 14: "EFAULT"
    case 16: "EBUSY"
    case 17: "EEXIST"
    case 19: "ENODEV"
    case 22: "EINVAL"
    case 24: "EMFILE"
    case 25: "ENOTTY"
    case 28: "ENOSPC"
    case 29: "ESPIPE"
    case 34: "ERANGE"
    case 38: "ENOSYS"
    case 42: "ENOMSG"
    case 61: "ENODATA"
    case 75: "EOVERFLOW"
    case 90: "EMSGSIZE"
    case 95: "EOPNOTSUPP"
    case 110: "ETIMEDOUT"
    default: "errno \(e.rawValue)"
    }
  }
}
