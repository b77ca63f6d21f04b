// SPDX-License-Identifier: GPL-2.0-only
// The NVIDIA GPU falcon registers, bits and tables the nv_falcon selftest driver uses
// (tools/testing/selftests/vfio/lib/drivers/nv_falcon/hw.h and linux/pci_ids.h, Linux 7.3), and
// nv_falcon.c's pure helpers (architecture decoding, MCTP/NVDM headers, the DMA chunking and
// size encoding). The driver is in NVFalconDriver.swift. Tests/UAPIConformanceTests/
// DriverConformanceTests.swift checks every register, bit, table entry and helper here against
// hw.h and nv_falcon.c.

/// nv_falcon/hw.h and linux/pci_ids.h: what nv_falcon.c uses.
enum NVFalconHW {
  static let PCI_VENDOR_ID_NVIDIA: UInt16 = 0x10de
  static let PCI_CLASS_DEVICE: UInt64 = 0x0a
  static let PCI_BASE_CLASS_DISPLAY: UInt16 = 0x03

  static let NV_PMC_BOOT_0 = 0x0000_0000
  static let NV_PMC_ENABLE = 0x0000_0200
  static let NV_PMC_ENABLE_PWR: UInt32 = 0x0000_2000
  static let NV_PMC_ENABLE_HUB: UInt32 = 0x2000_0000

  static let NV_PPWR_FALCON_BASE = 0x10a000
  static let NV_PGSP_FALCON_BASE = 0x110000
  static let NV_FALCON_DMACTL_OFFSET = 0x010c
  static let NV_FALCON_ENGINE_RESET_OFFSET = 0x03c0
  static let NV_PPWR_FALCON_DMEMC_AINCR_TRUE: UInt32 = 0x0100_0000
  static let NV_PPWR_FALCON_DMEMC_AINCW_TRUE: UInt32 = 0x0200_0000
  static let NV_FALCON_DMEMC_OFFSET = 0x1c0
  static let NV_FALCON_DMEMD_OFFSET = 0x1c4

  static let NV_FALCON_DMA_ADDR_LOW_OFFSET = 0x110
  static let NV_FALCON_DMA_MEM_OFFSET = 0x114
  static let NV_FALCON_DMA_CMD_OFFSET = 0x118
  static let NV_FALCON_DMA_BLOCK_OFFSET = 0x11c
  static let NV_FALCON_DMA_ADDR_HIGH_OFFSET = 0x128
  static let NV_GPU_DMA_ADDR_TOP_BITS_REG = 0x100f04
  static let NV_FALCON_DMA_CMD_WRITE_BIT: UInt32 = 0x20
  static let NV_FALCON_DMA_CMD_SIZE_SHIFT: UInt32 = 8
  static let NV_FALCON_DMA_CMD_DONE_BIT: UInt32 = 0x2

  static let NV_FALCON_DMA_MIN_TRANSFER_SIZE: UInt64 = 4
  static let NV_FALCON_DMA_MAX_TRANSFER_SIZE: UInt64 = 256
  static let NV_FALCON_DMA_BLOCK_SIZE: UInt64 = 256
  static let NV_FALCON_DMA_MAX_TRANSFER_COUNT: UInt64 = 1

  static let NV_FALCON_DMACTL_DMEM_SCRUBBING: UInt32 = 0x1
  static let NV_FALCON_DMACTL_READY_MASK: UInt32 = 0x6
  static let NV_FALCON_CORE_SELECT_OFFSET = 0x1668
  static let NV_FALCON_CORE_SELECT_MASK: UInt32 = 0x30
  static let NV_FALCON_MAILBOX_TEST_OFFSET = 0x40c
  static let NV_FALCON_MAILBOX_RESET_MAGIC: UInt32 = 0xbadf5620

  static let NV_FSP_EMEM_PORT2_CTRL = 0x8f2ad0
  static let NV_FSP_EMEM_PORT2_DATA = 0x8f2ad4
  static let NV_FALCON_EMEMC_AINCR: UInt32 = 0x0100_0000
  static let NV_FALCON_EMEMC_AINCW: UInt32 = 0x0200_0000
  static let NV_FSP_RPC_MAX_PACKET_SIZE: UInt32 = 1024
  static let NV_FSP_RPC_EMEM_BASE: UInt32 = 2048
  static let NV_FSP_QUEUE_HEAD = 0x8f2c10
  static let NV_FSP_QUEUE_TAIL = 0x8f2c14
  static let NV_FSP_MSG_QUEUE_HEAD = 0x8f2c90
  static let NV_FSP_MSG_QUEUE_TAIL = 0x8f2c94

  static let NV_MCTP_HDR_SEID_SHIFT: UInt32 = 16
  static let NV_MCTP_HDR_SEID_MASK: UInt32 = 0xff
  static let NV_MCTP_HDR_SEQ_SHIFT: UInt32 = 28
  static let NV_MCTP_HDR_SEQ_MASK: UInt32 = 0x3
  static let NV_MCTP_HDR_EOM_BIT: UInt32 = 0x4000_0000
  static let NV_MCTP_HDR_SOM_BIT: UInt32 = 0x8000_0000
  static let NV_MCTP_MSG_TYPE_SHIFT: UInt32 = 0
  static let NV_MCTP_MSG_TYPE_MASK: UInt32 = 0x7f
  static let NV_MCTP_MSG_TYPE_VENDOR_DEFINED: UInt32 = 0x7e
  static let NV_MCTP_MSG_VENDOR_ID_SHIFT: UInt32 = 8
  static let NV_MCTP_MSG_VENDOR_ID_MASK: UInt32 = 0xffff
  static let NV_MCTP_MSG_VENDOR_ID_NVIDIA: UInt32 = 0x10de
  static let NV_MCTP_MSG_NVDM_TYPE_SHIFT: UInt32 = 24
  static let NV_MCTP_MSG_NVDM_TYPE_MASK: UInt32 = 0xff
  static let NV_NVDM_TYPE_RESPONSE: UInt32 = 0x15
  static let NV_FSP_RPC_MIN_RESPONSE_WORDS = 5

  static let NV_OFA_DMA_SUPPORT_CHECK_REG = 0x8443c0
  static let NV_NVDM_TYPE_FBDMA: UInt32 = 0x22
  static let NV_FBDMA_SUBCMD_ENABLE: UInt32 = 0x1

  static let NV_FBIF_TRANSCFG_TARGET_MASK: UInt32 = 0x3
  static let NV_FBIF_TRANSCFG_SYSMEM_DEFAULT: UInt32 = 0x5
  static let NV_FBIF_CTL_ALLOW_PHYS_MODE: UInt32 = 0x10
  static let NV_FBIF_CTL_ALLOW_FULL_PHYS_MODE: UInt32 = 0x80

  static let NV_MEM_CLEAR_OFFSET = 0x100b20
  static let NV_BOOT_COMPLETE_OFFSET = 0x118234
  static let NV_BOOT_COMPLETE_SUCCESS: UInt32 = 0x3ff
  static let NV_FSP_BOOT_COMPLETE_OFFSET = 0x200bc
  static let NV_FSP_BOOT_COMPLETE_SUCCESS: UInt32 = 0xff

  /// `enum gpu_arch`.
  enum GPUArch: Int, Comparable, CaseIterable {
    case unknown = -1, kepler = 0, maxwellGen1, maxwellGen2, pascal, pascal10X, volta, turing, ampere, ada, hopper
    static func < (a: GPUArch, b: GPUArch) -> Bool { a.rawValue < b.rawValue }
  }

  /// `enum falcon_type`.
  enum FalconType: Int, CaseIterable {
    case pmuLegacy = 0, pmu, gsp, ofa
  }

  /// `struct falcon`: absolute BAR0 offsets of one falcon's registers.
  struct Falcon: Equatable {
    let basePage: Int
    let dmactl: Int
    let engineReset: Int
    let fbifCtl: Int
    let fbifCtl2: Int
    let fbifTranscfg: Int
    let dmemControlReg: Int
    let dmemDataReg: Int
    let noOutsideReset: Bool
  }

  /// `struct gpu_properties`.
  struct GPUProperties {
    let pmcEnableMask: UInt32
    let memoryClearSupported: Bool
    let falconType: FalconType
  }

  /// `verified_gpu_map`: PMC_BOOT_0 values of GPUs the driver was validated on.
  static let verifiedGPUMap: [UInt32] = [
    0x0e40a0a2, 0x0e6000a1, 0x0e63a0a1, 0x0f22d0a1, 0x108000a1, 0x117010a2, 0x117020a2, 0x124320a1, 0x130000a1,
    0x134000a1, 0x132000a1, 0x140000a1, 0x164000a1, 0xb77000a1, 0x170000a1, 0xb72000a1, 0x180000a1, 0x194000a1,
    0x192000a1,
  ]

  /// `gpu_properties_map`, by `GPUArch.rawValue`.
  static let gpuPropertiesMap: [GPUProperties] = [
    GPUProperties(pmcEnableMask: NV_PMC_ENABLE_PWR | NV_PMC_ENABLE_HUB, memoryClearSupported: false, falconType: .pmuLegacy),  // kepler
    GPUProperties(pmcEnableMask: NV_PMC_ENABLE_PWR | NV_PMC_ENABLE_HUB, memoryClearSupported: false, falconType: .pmuLegacy),  // maxwell gen1
    GPUProperties(pmcEnableMask: NV_PMC_ENABLE_PWR, memoryClearSupported: false, falconType: .pmu),  // maxwell gen2
    GPUProperties(pmcEnableMask: NV_PMC_ENABLE_PWR, memoryClearSupported: false, falconType: .pmu),  // pascal
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: false, falconType: .pmu),  // pascal 10x
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: false, falconType: .gsp),  // volta
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: true, falconType: .gsp),  // turing
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: true, falconType: .gsp),  // ampere
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: true, falconType: .pmu),  // ada
    GPUProperties(pmcEnableMask: 0, memoryClearSupported: true, falconType: .ofa),  // hopper
  ]

  /// `falcon_map`, by `FalconType.rawValue`.
  static let falconMap: [Falcon] = [
    // FALCON_TYPE_PMU_LEGACY: NV_PMU_LEGACY_FBIF_CTL_OFFSET 0x624, _TRANSCFG_OFFSET 0x600
    Falcon(basePage: 0x10a000, dmactl: 0x10a10c, engineReset: 0x10a3c0, fbifCtl: 0x10a624, fbifCtl2: 0x10a684,
           fbifTranscfg: 0x10a600, dmemControlReg: 0x10a1c0, dmemDataReg: 0x10a1c4, noOutsideReset: false),
    // FALCON_TYPE_PMU: NV_PMU_FBIF_CTL_OFFSET 0xe24, NV_PMU_FBIF_TRANSCFG_OFFSET 0xe00
    Falcon(basePage: 0x10a000, dmactl: 0x10a10c, engineReset: 0x10a3c0, fbifCtl: 0x10ae24, fbifCtl2: 0x10ae84,
           fbifTranscfg: 0x10ae00, dmemControlReg: 0x10a1c0, dmemDataReg: 0x10a1c4, noOutsideReset: false),
    // FALCON_TYPE_GSP: NV_GSP_FBIF_CTL_OFFSET 0x624, NV_GSP_FBIF_TRANSCFG_OFFSET 0x600
    Falcon(basePage: 0x110000, dmactl: 0x11010c, engineReset: 0x1103c0, fbifCtl: 0x110624, fbifCtl2: 0x110684,
           fbifTranscfg: 0x110600, dmemControlReg: 0x1101c0, dmemDataReg: 0x1101c4, noOutsideReset: false),
    // FALCON_TYPE_OFA: NV_OFA_FALCON_BASE 0x844000, NV_OFA_FBIF_CTL_OFFSET 0x424, _TRANSCFG_OFFSET 0x400
    Falcon(basePage: 0x844000, dmactl: 0x84410c, engineReset: 0x8443c0, fbifCtl: 0x844424, fbifCtl2: 0x844484,
           fbifTranscfg: 0x844400, dmemControlReg: 0x8441c0, dmemDataReg: 0x8441c4, noOutsideReset: true),
  ]

  /// `nv_gpu_arch_lookup`.
  static func gpuArch(pmcBoot0: UInt32) -> GPUArch {
    switch (pmcBoot0 >> 24) & 0x1f {
    case 0x0e, 0x0f, 0x10: .kepler
    case 0x11: .maxwellGen1
    case 0x12: .maxwellGen2
    // P100 (impl 0) uses PMC reset; P4/P40 use engine reset
    case 0x13: (pmcBoot0 >> 20) & 0xf == 0 ? .pascal : .pascal10X
    case 0x14: .volta
    case 0x16: .turing
    case 0x17: .ampere
    case 0x18: .hopper
    case 0x19: .ada
    default: .unknown
    }
  }

  /// `mctp_header_build`.
  static func mctpHeader(seid: UInt8, seq: UInt8, som: Bool, eom: Bool) -> UInt32 {
    var hdr: UInt32 = 0
    hdr |= (UInt32(seid) & NV_MCTP_HDR_SEID_MASK) << NV_MCTP_HDR_SEID_SHIFT
    hdr |= (UInt32(seq) & NV_MCTP_HDR_SEQ_MASK) << NV_MCTP_HDR_SEQ_SHIFT
    if som { hdr |= NV_MCTP_HDR_SOM_BIT }
    if eom { hdr |= NV_MCTP_HDR_EOM_BIT }
    return hdr
  }

  /// `mctp_msg_header_build`.
  static func mctpMessageHeader(nvdmType: UInt8) -> UInt32 {
    var hdr: UInt32 = 0
    hdr |= (NV_MCTP_MSG_TYPE_VENDOR_DEFINED & NV_MCTP_MSG_TYPE_MASK) << NV_MCTP_MSG_TYPE_SHIFT
    hdr |= (NV_MCTP_MSG_VENDOR_ID_NVIDIA & NV_MCTP_MSG_VENDOR_ID_MASK) << NV_MCTP_MSG_VENDOR_ID_SHIFT
    hdr |= (UInt32(nvdmType) & NV_MCTP_MSG_NVDM_TYPE_MASK) << NV_MCTP_MSG_NVDM_TYPE_SHIFT
    return hdr
  }

  /// `mctp_msg_header_get_nvdm_type`.
  static func nvdmType(ofMessageHeader hdr: UInt32) -> UInt8 {
    UInt8((hdr >> NV_MCTP_MSG_NVDM_TYPE_SHIFT) & NV_MCTP_MSG_NVDM_TYPE_MASK)
  }

  /// `dma_block_remain`: the largest power-of-2 transfer from `addr` that stays in its block.
  static func dmaBlockRemain(_ addr: UInt64) -> UInt64 {
    let offset = addr & (NV_FALCON_DMA_BLOCK_SIZE - 1)
    if offset == 0 { return NV_FALCON_DMA_BLOCK_SIZE }
    // Lowest set bit of the offset is the largest aligned chunk
    return UInt64(1) << offset.trailingZeroBitCount
  }

  /// `rounddown_pow_of_two` (x > 0).
  static func roundDownPowerOfTwo(_ x: UInt64) -> UInt64 { UInt64(1) << (63 - x.leadingZeroBitCount) }

  /// `nv_falcon_memcpy_wait`'s split of a copy into chunks: power-of-2 sizes in [4, 256] that
  /// cross no 256-byte block on either side (sizes below 4 are refused when sent).
  static func chunks(src: UInt64, dst: UInt64, size: UInt64) -> [(src: UInt64, dst: UInt64, size: UInt64)] {
    var out: [(src: UInt64, dst: UInt64, size: UInt64)] = []
    var (src, dst, remaining) = (src, dst, size)
    while remaining != 0 {
      var chunk = roundDownPowerOfTwo(remaining)
      chunk = min(chunk, dmaBlockRemain(src))
      chunk = min(chunk, dmaBlockRemain(dst))
      out.append((src, dst, chunk))
      src &+= chunk
      dst &+= chunk
      remaining -= chunk
    }
    return out
  }

  /// `size_to_dma_encoding`: nil where C's assertions fail.
  static func dmaSizeEncoding(_ size: UInt64) -> UInt32? {
    guard size <= NV_FALCON_DMA_MAX_TRANSFER_SIZE, size >= NV_FALCON_DMA_MIN_TRANSFER_SIZE, size & (size - 1) == 0 else { return nil }
    return UInt32(size.trailingZeroBitCount + 1) - 3  // ffs(size) - 3
  }
}
