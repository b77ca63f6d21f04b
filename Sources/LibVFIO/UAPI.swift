// SPDX-License-Identifier: GPL-2.0-only
// The ioctl numbers and flag values of linux/vfio.h, linux/iommufd.h and linux/liveupdate.h
// (Linux 7.3) that this project uses. The structs are in CVFIOShim. Every value here is checked
// against real uAPI headers by Tests/UAPIConformanceTests.

/// `_IO(type, nr)`: every VFIO, IOMMUFD and Live Update command is encoded this way
/// (direction 0, size 0), so the number is `type << 8 | nr`.
@inline(__always)
package func _IO(_ type: UInt, _ nr: UInt) -> UInt { type << 8 | nr }

/// linux/vfio.h
public enum VFIO {
  public static let type: UInt = 0x3B  // ';'
  public static let base: UInt = 100
  public static let apiVersion: CInt = 0

  public static let TYPE1_IOMMU: UInt32 = 1
  public static let TYPE1v2_IOMMU: UInt32 = 3
  public static let NOIOMMU_IOMMU: UInt32 = 8

  public static let GET_API_VERSION = _IO(type, base + 0)
  public static let CHECK_EXTENSION = _IO(type, base + 1)
  public static let SET_IOMMU = _IO(type, base + 2)
  public static let GROUP_GET_STATUS = _IO(type, base + 3)
  public static let GROUP_SET_CONTAINER = _IO(type, base + 4)
  public static let GROUP_UNSET_CONTAINER = _IO(type, base + 5)
  public static let GROUP_GET_DEVICE_FD = _IO(type, base + 6)
  public static let DEVICE_GET_INFO = _IO(type, base + 7)
  public static let DEVICE_GET_REGION_INFO = _IO(type, base + 8)
  public static let DEVICE_GET_IRQ_INFO = _IO(type, base + 9)
  public static let DEVICE_SET_IRQS = _IO(type, base + 10)
  public static let DEVICE_RESET = _IO(type, base + 11)
  public static let DEVICE_FEATURE = _IO(type, base + 17)
  public static let DEVICE_BIND_IOMMUFD = _IO(type, base + 18)
  public static let DEVICE_ATTACH_IOMMUFD_PT = _IO(type, base + 19)
  public static let DEVICE_DETACH_IOMMUFD_PT = _IO(type, base + 20)
  public static let MIG_GET_PRECOPY_INFO = _IO(type, base + 21)
  public static let IOMMU_GET_INFO = _IO(type, base + 12)
  public static let IOMMU_MAP_DMA = _IO(type, base + 13)
  public static let IOMMU_UNMAP_DMA = _IO(type, base + 14)

  public static let GROUP_FLAGS_VIABLE: UInt32 = 1 << 0
  public static let GROUP_FLAGS_CONTAINER_SET: UInt32 = 1 << 1

  public static let DEVICE_FLAGS_RESET: UInt32 = 1 << 0
  public static let DEVICE_FLAGS_PCI: UInt32 = 1 << 1
  public static let DEVICE_FLAGS_CAPS: UInt32 = 1 << 7

  public static let REGION_INFO_FLAG_READ: UInt32 = 1 << 0
  public static let REGION_INFO_FLAG_WRITE: UInt32 = 1 << 1
  public static let REGION_INFO_FLAG_MMAP: UInt32 = 1 << 2
  public static let REGION_INFO_FLAG_CAPS: UInt32 = 1 << 3

  public static let IRQ_INFO_EVENTFD: UInt32 = 1 << 0
  public static let IRQ_INFO_MASKABLE: UInt32 = 1 << 1
  public static let IRQ_INFO_AUTOMASKED: UInt32 = 1 << 2
  public static let IRQ_INFO_NORESIZE: UInt32 = 1 << 3

  public static let IRQ_SET_DATA_NONE: UInt32 = 1 << 0
  public static let IRQ_SET_DATA_BOOL: UInt32 = 1 << 1
  public static let IRQ_SET_DATA_EVENTFD: UInt32 = 1 << 2
  public static let IRQ_SET_ACTION_MASK: UInt32 = 1 << 3
  public static let IRQ_SET_ACTION_UNMASK: UInt32 = 1 << 4
  public static let IRQ_SET_ACTION_TRIGGER: UInt32 = 1 << 5

  public static let PCI_BAR0_REGION_INDEX: UInt32 = 0
  public static let PCI_ROM_REGION_INDEX: UInt32 = 6
  public static let PCI_CONFIG_REGION_INDEX: UInt32 = 7
  public static let PCI_INTX_IRQ_INDEX: UInt32 = 0
  public static let PCI_MSI_IRQ_INDEX: UInt32 = 1
  public static let PCI_MSIX_IRQ_INDEX: UInt32 = 2

  public static let DEVICE_FEATURE_MASK: UInt32 = 0xFFFF
  public static let DEVICE_FEATURE_GET: UInt32 = 1 << 16
  public static let DEVICE_FEATURE_SET: UInt32 = 1 << 17
  public static let DEVICE_FEATURE_PROBE: UInt32 = 1 << 18
  public static let DEVICE_FEATURE_PCI_VF_TOKEN: UInt32 = 0
  public static let DEVICE_FEATURE_MIGRATION: UInt32 = 1
  public static let DEVICE_FEATURE_MIG_DEVICE_STATE: UInt32 = 2
  public static let DEVICE_FEATURE_MIG_DATA_SIZE: UInt32 = 9

  public static let MIGRATION_STOP_COPY: UInt64 = 1 << 0
  public static let MIGRATION_P2P: UInt64 = 1 << 1
  public static let MIGRATION_PRE_COPY: UInt64 = 1 << 2
  public static let PRECOPY_INFO_REINIT: UInt32 = 1 << 0
  // enum vfio_device_mig_state (MigrationState mirrors these as a Swift enum)
  public static let DEVICE_STATE_ERROR: UInt32 = 0
  public static let DEVICE_STATE_STOP: UInt32 = 1
  public static let DEVICE_STATE_RUNNING: UInt32 = 2
  public static let DEVICE_STATE_STOP_COPY: UInt32 = 3
  public static let DEVICE_STATE_RESUMING: UInt32 = 4
  public static let DEVICE_STATE_RUNNING_P2P: UInt32 = 5
  public static let DEVICE_STATE_PRE_COPY: UInt32 = 6
  public static let DEVICE_STATE_PRE_COPY_P2P: UInt32 = 7
  public static let DEVICE_STATE_NR: UInt32 = 8

  public static let DEVICE_BIND_FLAG_TOKEN: UInt32 = 1 << 0

  public static let IOMMU_INFO_PGSIZES: UInt32 = 1 << 0
  public static let IOMMU_INFO_CAPS: UInt32 = 1 << 1
  public static let IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: UInt16 = 1

  public static let DMA_MAP_FLAG_READ: UInt32 = 1 << 0
  public static let DMA_MAP_FLAG_WRITE: UInt32 = 1 << 1
  public static let DMA_UNMAP_FLAG_ALL: UInt32 = 1 << 1
}

/// linux/iommufd.h
public enum IOMMUFD {
  public static let type: UInt = 0x3B  // ';'
  public static let DESTROY = _IO(type, 0x80)
  public static let IOAS_ALLOC = _IO(type, 0x81)
  public static let IOAS_IOVA_RANGES = _IO(type, 0x84)
  public static let IOAS_MAP = _IO(type, 0x85)
  public static let IOAS_UNMAP = _IO(type, 0x86)

  public static let IOAS_MAP_FIXED_IOVA: UInt32 = 1 << 0
  public static let IOAS_MAP_WRITEABLE: UInt32 = 1 << 1
  public static let IOAS_MAP_READABLE: UInt32 = 1 << 2
}

/// linux/pci_regs.h, the few registers the selftests touch.
public enum PCIConfig {
  public static let VENDOR_ID: UInt64 = 0x00
  public static let DEVICE_ID: UInt64 = 0x02
  public static let COMMAND: UInt64 = 0x04
  public static let COMMAND_MEMORY: UInt16 = 0x2
  public static let COMMAND_MASTER: UInt16 = 0x4
  public static let COMMAND_INTX_DISABLE: UInt16 = 0x400
  public static let SUBSYSTEM_VENDOR_ID: UInt64 = 0x2c
  public static let SUBSYSTEM_ID: UInt64 = 0x2e
}
