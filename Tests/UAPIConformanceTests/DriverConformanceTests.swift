// SPDX-License-Identifier: GPL-2.0-only
// Checks the ports of the C selftest drivers (LibVFIO/Drivers: ioat, dsa, nv_falcon, igb) against the
// C drivers of Linux 7.3: every register offset, bit, descriptor field offset and size, table
// entry and constant the Swift drivers use, and the pure helpers, evaluated by a C probe compiled
// against the drivers' own headers, with the state structs, #defines and helper functions taken
// verbatim from the driver sources.
//
// Sources: $VFIO_SELFTESTS_KERNEL_SOURCE (a Linux source tree), else .build-vm/kernel-source,
// which scripts/fetch-kernel-source.sh fills from Debian's linux-source-7.3 (scripts/test.sh runs
// it). Without them the test skips, saying so.
@testable import LibVFIO
import Foundation
import LibVFIO
import Testing

/// One value a Swift driver uses, and the C expression that must evaluate to it.
struct DriverCheck: Sendable {
  let cExpression: String
  let swiftValue: UInt64
}

private func c<T: BinaryInteger>(_ expr: String, _ v: T) -> DriverCheck {
  DriverCheck(cExpression: expr, swiftValue: UInt64(truncatingIfNeeded: v))
}

/// The word index and mask of bit field `f` of C type `type` viewed as `wordBits`-bit words.
private func field(_ type: String, _ f: String, wordBits: Int, word: Int, mask: UInt64) -> [DriverCheck] {
  [c("FIELD_WORD(\(type), \(f), u\(wordBits))", word), c("FIELD_MASK(\(type), \(f), u\(wordBits))", mask)]
}

private func field(_ type: String, _ f: String, wordBits: Int, word: Int = 0, _ rf: RegisterField) -> [DriverCheck] {
  field(type, f, wordBits: wordBits, word: word, mask: rf.mask)
}

/// Where each check's input comes from in the C sources: pieces taken from the driver sources.
struct DriverSourcePiece {
  enum Kind { case define, structure, function }
  let file: String
  let kind: Kind
  let name: String
  /// For a `#define` that two drivers both define (MSIX_VECTOR in dsa.c and igb.c): the name it
  /// gets in the probe.
  var alias: String? = nil
}

private var pieces: [DriverSourcePiece] {
  var p: [DriverSourcePiece] = []
  #if arch(x86_64)
  p += [
    DriverSourcePiece(file: "ioat/ioat.c", kind: .define, name: "IOAT_DMACOUNT_MAX"),
    DriverSourcePiece(file: "ioat/ioat.c", kind: .structure, name: "ioat_state"),
    DriverSourcePiece(file: "dsa/dsa.c", kind: .define, name: "MSIX_VECTOR"),
    DriverSourcePiece(file: "dsa/dsa.c", kind: .structure, name: "dsa_state"),
  ]
  #endif
  p += [
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .structure, name: "gpu_device"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "nv_gpu_arch_lookup"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "mctp_header_build"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "mctp_msg_header_build"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "mctp_msg_header_get_nvdm_type"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "dma_block_remain"),
    DriverSourcePiece(file: "nv_falcon/nv_falcon.c", kind: .function, name: "rounddown_pow_of_two"),
    DriverSourcePiece(file: "igb/igb.c", kind: .define, name: "PCI_DEVICE_ID_INTEL_82576"),
    DriverSourcePiece(file: "igb/igb.c", kind: .define, name: "IGB_MAX_CHUNK_SIZE"),
    DriverSourcePiece(file: "igb/igb.c", kind: .define, name: "MSIX_VECTOR", alias: "IGB_MSIX_VECTOR"),
    DriverSourcePiece(file: "igb/igb.c", kind: .define, name: "RING_SIZE"),
    DriverSourcePiece(file: "igb/igb.c", kind: .structure, name: "igb_tx_desc"),
    DriverSourcePiece(file: "igb/igb.c", kind: .structure, name: "igb_rx_desc"),
    DriverSourcePiece(file: "igb/igb.c", kind: .structure, name: "igb"),
  ]
  return p
}

let driverChecks: [DriverCheck] = {
  var k: [DriverCheck] = []
  // linux/pci_regs.h and linux/pci_ids.h values the drivers use (LibVFIO's PCIConfig)
  k += [
    c("PCI_VENDOR_ID", PCIConfig.VENDOR_ID), c("PCI_DEVICE_ID", PCIConfig.DEVICE_ID), c("PCI_COMMAND", PCIConfig.COMMAND),
    c("PCI_COMMAND_MEMORY", PCIConfig.COMMAND_MEMORY), c("PCI_COMMAND_MASTER", PCIConfig.COMMAND_MASTER),
    c("PCI_COMMAND_INTX_DISABLE", PCIConfig.COMMAND_INTX_DISABLE),
  ]

  #if arch(x86_64)
  // ioat: drivers/dma/ioat/{hw,registers}.h, ioat.c
  typealias I = IOATHW
  k += [
    c("PCI_VENDOR_ID_INTEL", I.PCI_VENDOR_ID_INTEL), c("PCI_DEVICE_ID_INTEL_IOAT_SKX", I.PCI_DEVICE_ID_INTEL_IOAT_SKX),
    c("IOAT_VER_3_2", I.IOAT_VER_3_2), c("IOAT_VER_3_3", I.IOAT_VER_3_3),
    c("IOAT_PCI_DMAUNCERRSTS_OFFSET", I.IOAT_PCI_DMAUNCERRSTS_OFFSET), c("IOAT_PCI_CHANERR_INT_OFFSET", I.IOAT_PCI_CHANERR_INT_OFFSET),
    c("IOAT_XFERCAP_OFFSET", I.IOAT_XFERCAP_OFFSET), c("IOAT_INTRCTRL_OFFSET", I.IOAT_INTRCTRL_OFFSET),
    c("IOAT_INTRCTRL_MSIX_VECTOR_CONTROL", I.IOAT_INTRCTRL_MSIX_VECTOR_CONTROL), c("IOAT_VER_OFFSET", I.IOAT_VER_OFFSET),
    c("IOAT_CHANNEL_MMIO_SIZE", I.IOAT_CHANNEL_MMIO_SIZE), c("IOAT_CHANCTRL_OFFSET", I.IOAT_CHANCTRL_OFFSET),
    c("IOAT_CHANCTRL_ANY_ERR_ABORT_EN", I.IOAT_CHANCTRL_ANY_ERR_ABORT_EN), c("IOAT_CHANCTRL_INT_REARM", I.IOAT_CHANCTRL_INT_REARM),
    c("IOAT_CHAN_DMACOUNT_OFFSET", I.IOAT_CHAN_DMACOUNT_OFFSET), c("IOAT_CHANSTS_OFFSET", I.IOAT_CHANSTS_OFFSET),
    c("IOAT_CHANSTS_STATUS", I.IOAT_CHANSTS_STATUS), c("IOAT_CHANSTS_DONE", I.IOAT_CHANSTS_DONE),
    c("IOAT_CHANSTS_SUSPENDED", I.IOAT_CHANSTS_SUSPENDED), c("IOAT_CHANSTS_HALTED", I.IOAT_CHANSTS_HALTED),
    c("IOAT2_CHAINADDR_OFFSET", I.IOAT2_CHAINADDR_OFFSET), c("IOAT2_CHANCMD_OFFSET", I.IOAT2_CHANCMD_OFFSET),
    c("IOAT_CHANCMD_RESET", I.IOAT_CHANCMD_RESET), c("IOAT_CHANCMD_SUSPEND", I.IOAT_CHANCMD_SUSPEND),
    c("IOAT_CHANERR_OFFSET", I.IOAT_CHANERR_OFFSET), c("IOAT_OP_COPY", I.IOAT_OP_COPY),
    c("IOAT_DMACOUNT_MAX", IOATDriver.IOAT_DMACOUNT_MAX),
    c("IOAT_DESC_SZ", IOATDMADescriptor.size),
    c("sizeof(struct ioat_dma_descriptor)", IOATDMADescriptor.size),
    c("offsetof(struct ioat_dma_descriptor, size)", IOATDMADescriptor.sizeOffset),
    c("offsetof(struct ioat_dma_descriptor, ctl)", IOATDMADescriptor.ctlOffset),
    c("offsetof(struct ioat_dma_descriptor, src_addr)", IOATDMADescriptor.srcAddrOffset),
    c("offsetof(struct ioat_dma_descriptor, dst_addr)", IOATDMADescriptor.dstAddrOffset),
    c("offsetof(struct ioat_dma_descriptor, next)", IOATDMADescriptor.nextOffset),
    c("FIELD_IN(struct ioat_dma_descriptor, ctl_f.int_en, ctl)", UInt64(1) << IOATDMADescriptor.ctlIntEnShift),
    c("FIELD_IN(struct ioat_dma_descriptor, ctl_f.op, ctl)", UInt64(0xff) << IOATDMADescriptor.ctlOpShift),
    c("sizeof(struct ioat_state)", IOATState.size), c("offsetof(struct ioat_state, desc)", IOATState.descOffset),
    c("offsetof(struct ioat_state, send_msi_src)", IOATState.sendMSISrcOffset),
    c("offsetof(struct ioat_state, send_msi_dst)", IOATState.sendMSIDstOffset),
  ]

  // dsa: drivers/dma/idxd/registers.h, include/uapi/linux/idxd.h, dsa.c
  typealias D = DSAHW
  k += [
    c("PCI_VENDOR_ID_INTEL", D.PCI_VENDOR_ID_INTEL), c("PCI_DEVICE_ID_INTEL_DSA_SPR0", D.PCI_DEVICE_ID_INTEL_DSA_SPR0),
    c("PCI_DEVICE_ID_INTEL_DSA_DMR", D.PCI_DEVICE_ID_INTEL_DSA_DMR), c("PCI_DEVICE_ID_INTEL_DSA_GNRD", D.PCI_DEVICE_ID_INTEL_DSA_GNRD),
    c("IDXD_GENCAP_OFFSET", D.IDXD_GENCAP_OFFSET), c("IDXD_WQCAP_OFFSET", D.IDXD_WQCAP_OFFSET), c("IDXD_WQCFG_MIN", D.IDXD_WQCFG_MIN),
    c("IDXD_GRPCAP_OFFSET", D.IDXD_GRPCAP_OFFSET), c("IDXD_ENGCAP_OFFSET", D.IDXD_ENGCAP_OFFSET),
    c("IDXD_TABLE_OFFSET", D.IDXD_TABLE_OFFSET), c("IDXD_TABLE_MULT", D.IDXD_TABLE_MULT), c("IDXD_CMD_OFFSET", D.IDXD_CMD_OFFSET),
    c("IDXD_CMDSTS_OFFSET", D.IDXD_CMDSTS_OFFSET), c("IDXD_CMDSTS_ACTIVE", D.IDXD_CMDSTS_ACTIVE),
    c("IDXD_CMDSTS_ERR_MASK", D.IDXD_CMDSTS_ERR_MASK), c("IDXD_CMDCAP_OFFSET", D.IDXD_CMDCAP_OFFSET),
    c("IDXD_SWERR_OFFSET", D.IDXD_SWERR_OFFSET),
    c("IDXD_CMD_ENABLE_DEVICE", D.IDXD_CMD_ENABLE_DEVICE), c("IDXD_CMD_RESET_DEVICE", D.IDXD_CMD_RESET_DEVICE),
    c("IDXD_CMD_ENABLE_WQ", D.IDXD_CMD_ENABLE_WQ), c("IDXD_CMD_REQUEST_INT_HANDLE", D.IDXD_CMD_REQUEST_INT_HANDLE),
    c("IDXD_OP_FLAG_CRAV", D.IDXD_OP_FLAG_CRAV), c("IDXD_OP_FLAG_RCR", D.IDXD_OP_FLAG_RCR), c("IDXD_OP_FLAG_RCI", D.IDXD_OP_FLAG_RCI),
    c("DSA_OPCODE_BATCH", D.DSA_OPCODE_BATCH), c("DSA_OPCODE_MEMMOVE", D.DSA_OPCODE_MEMMOVE), c("DSA_COMP_SUCCESS", D.DSA_COMP_SUCCESS),
    c("MSIX_VECTOR", DSADriver.MSIX_VECTOR),
  ]
  k += field("union gen_cap_reg", "cmd_cap", wordBits: 64, D.genCapCmdCap)
  k += field("union gen_cap_reg", "max_xfer_shift", wordBits: 64, D.genCapMaxXferShift)
  k += field("union gen_cap_reg", "max_batch_shift", wordBits: 64, D.genCapMaxBatchShift)
  k += field("union wq_cap_reg", "total_wq_size", wordBits: 64, D.wqCapTotalWQSize)
  k += field("union wq_cap_reg", "num_wqs", wordBits: 64, D.wqCapNumWQs)
  k += field("union wq_cap_reg", "wqcfg_size", wordBits: 64, D.wqCapWQCfgSize)
  k += field("union wq_cap_reg", "wq_ats_support", wordBits: 64, D.wqCapWQATSSupport)
  k += field("union group_cap_reg", "num_groups", wordBits: 64, D.groupCapNumGroups)
  k += field("union engine_cap_reg", "num_engines", wordBits: 64, D.engineCapNumEngines)
  k += field("union offsets_reg", "grpcfg", wordBits: 64, D.offsetsGrpCfg)
  k += field("union offsets_reg", "wqcfg", wordBits: 64, D.offsetsWQCfg)
  k += field("union idxd_command_reg", "cmd", wordBits: 32, D.commandCmd)
  k += [c("sizeof(union sw_err_reg) / 8", D.swErrWords)]
  for f in D.swErrFields { k += field("union sw_err_reg", f.name, wordBits: 64, word: f.word, f.field) }
  k += [
    c("offsetof(struct grpcfg, wqs[0])", D.grpcfgWQs0Offset), c("offsetof(struct grpcfg, engines)", D.grpcfgEnginesOffset),
    c("sizeof(union wqcfg) / 4", D.wqcfgWords), c("offsetof(union wqcfg, op_config[0]) / 4", D.wqcfgOpConfig0Word),
  ]
  k += field("union wqcfg", "wq_size", wordBits: 32, word: D.wqcfgWQSize.word, D.wqcfgWQSize.field)
  k += field("union wqcfg", "mode", wordBits: 32, word: D.wqcfgMode.word, D.wqcfgMode.field)
  k += field("union wqcfg", "wq_ats_disable", wordBits: 32, word: D.wqcfgWQATSDisable.word, D.wqcfgWQATSDisable.field)
  k += field("union wqcfg", "priority", wordBits: 32, word: D.wqcfgPriority.word, D.wqcfgPriority.field)
  k += field("union wqcfg", "max_xfer_shift", wordBits: 32, word: D.wqcfgMaxXferShift.word, D.wqcfgMaxXferShift.field)
  k += field("union wqcfg", "max_batch_shift", wordBits: 32, word: D.wqcfgMaxBatchShift.word, D.wqcfgMaxBatchShift.field)
  k += [
    c("sizeof(struct dsa_hw_desc)", DSAHWDesc.size),
    c("offsetof(struct dsa_hw_desc, completion_addr)", DSAHWDesc.completionAddrOffset),
    c("offsetof(struct dsa_hw_desc, src_addr)", DSAHWDesc.srcAddrOffset),
    c("offsetof(struct dsa_hw_desc, desc_list_addr)", DSAHWDesc.srcAddrOffset),
    c("offsetof(struct dsa_hw_desc, dst_addr)", DSAHWDesc.dstAddrOffset),
    c("offsetof(struct dsa_hw_desc, xfer_size)", DSAHWDesc.xferSizeOffset),
    c("offsetof(struct dsa_hw_desc, desc_count)", DSAHWDesc.xferSizeOffset),
    c("offsetof(struct dsa_hw_desc, int_handle)", DSAHWDesc.intHandleOffset),
  ]
  k += field("struct dsa_hw_desc", "priv", wordBits: 32, word: DSAHWDesc.privWord, DSAHWDesc.priv)
  k += field("struct dsa_hw_desc", "flags", wordBits: 32, word: DSAHWDesc.flagsWord, DSAHWDesc.flags)
  k += field("struct dsa_hw_desc", "opcode", wordBits: 32, word: DSAHWDesc.flagsWord, DSAHWDesc.opcode)
  k += [
    c("sizeof(struct dsa_completion_record)", DSACompletionRecord.size),
    c("offsetof(struct dsa_completion_record, status)", DSACompletionRecord.statusOffset),
    c("sizeof(struct dsa_state)", DSAState.size),
    c("sizeof(((struct dsa_state *)0)->batch) / sizeof(struct dsa_hw_desc)", DSAState.batchCount),
    c("sizeof(((struct dsa_state *)0)->copy) / sizeof(struct dsa_hw_desc)", DSAState.copyCount),
    c("offsetof(struct dsa_state, batch)", DSAState.batchOffset), c("offsetof(struct dsa_state, copy)", DSAState.copyOffset),
    c("offsetof(struct dsa_state, copy_completion)", DSAState.copyCompletionOffset),
    c("offsetof(struct dsa_state, batch_completion)", DSAState.batchCompletionOffset),
    c("offsetof(struct dsa_state, send_msi_src)", DSAState.sendMSISrcOffset),
    c("offsetof(struct dsa_state, send_msi_dst)", DSAState.sendMSIDstOffset),
  ]
  #endif

  // nv_falcon: nv_falcon/hw.h, nv_falcon.c
  typealias N = NVFalconHW
  k += [
    c("PCI_VENDOR_ID_NVIDIA", N.PCI_VENDOR_ID_NVIDIA), c("PCI_CLASS_DEVICE", N.PCI_CLASS_DEVICE),
    c("PCI_BASE_CLASS_DISPLAY", N.PCI_BASE_CLASS_DISPLAY),
    c("NV_PMC_BOOT_0", N.NV_PMC_BOOT_0), c("NV_PMC_ENABLE", N.NV_PMC_ENABLE), c("NV_PMC_ENABLE_PWR", N.NV_PMC_ENABLE_PWR),
    c("NV_PMC_ENABLE_HUB", N.NV_PMC_ENABLE_HUB), c("NV_PPWR_FALCON_BASE", N.NV_PPWR_FALCON_BASE),
    c("NV_PGSP_FALCON_BASE", N.NV_PGSP_FALCON_BASE), c("NV_FALCON_DMACTL_OFFSET", N.NV_FALCON_DMACTL_OFFSET),
    c("NV_FALCON_ENGINE_RESET_OFFSET", N.NV_FALCON_ENGINE_RESET_OFFSET),
    c("NV_PPWR_FALCON_DMEMC_AINCR_TRUE", N.NV_PPWR_FALCON_DMEMC_AINCR_TRUE),
    c("NV_PPWR_FALCON_DMEMC_AINCW_TRUE", N.NV_PPWR_FALCON_DMEMC_AINCW_TRUE),
    c("NV_FALCON_DMEMC_OFFSET", N.NV_FALCON_DMEMC_OFFSET), c("NV_FALCON_DMEMD_OFFSET", N.NV_FALCON_DMEMD_OFFSET),
    c("NV_FALCON_DMA_ADDR_LOW_OFFSET", N.NV_FALCON_DMA_ADDR_LOW_OFFSET), c("NV_FALCON_DMA_MEM_OFFSET", N.NV_FALCON_DMA_MEM_OFFSET),
    c("NV_FALCON_DMA_CMD_OFFSET", N.NV_FALCON_DMA_CMD_OFFSET), c("NV_FALCON_DMA_BLOCK_OFFSET", N.NV_FALCON_DMA_BLOCK_OFFSET),
    c("NV_FALCON_DMA_ADDR_HIGH_OFFSET", N.NV_FALCON_DMA_ADDR_HIGH_OFFSET),
    c("NV_GPU_DMA_ADDR_TOP_BITS_REG", N.NV_GPU_DMA_ADDR_TOP_BITS_REG),
    c("NV_FALCON_DMA_CMD_WRITE_BIT", N.NV_FALCON_DMA_CMD_WRITE_BIT), c("NV_FALCON_DMA_CMD_SIZE_SHIFT", N.NV_FALCON_DMA_CMD_SIZE_SHIFT),
    c("NV_FALCON_DMA_CMD_DONE_BIT", N.NV_FALCON_DMA_CMD_DONE_BIT),
    c("NV_FALCON_DMA_MIN_TRANSFER_SIZE", N.NV_FALCON_DMA_MIN_TRANSFER_SIZE),
    c("NV_FALCON_DMA_MAX_TRANSFER_SIZE", N.NV_FALCON_DMA_MAX_TRANSFER_SIZE), c("NV_FALCON_DMA_BLOCK_SIZE", N.NV_FALCON_DMA_BLOCK_SIZE),
    c("NV_FALCON_DMA_MAX_TRANSFER_COUNT", N.NV_FALCON_DMA_MAX_TRANSFER_COUNT),
    c("NV_FALCON_DMACTL_DMEM_SCRUBBING", N.NV_FALCON_DMACTL_DMEM_SCRUBBING),
    c("NV_FALCON_DMACTL_READY_MASK", N.NV_FALCON_DMACTL_READY_MASK),
    c("NV_FALCON_CORE_SELECT_OFFSET", N.NV_FALCON_CORE_SELECT_OFFSET), c("NV_FALCON_CORE_SELECT_MASK", N.NV_FALCON_CORE_SELECT_MASK),
    c("NV_FALCON_MAILBOX_TEST_OFFSET", N.NV_FALCON_MAILBOX_TEST_OFFSET),
    c("NV_FALCON_MAILBOX_RESET_MAGIC", N.NV_FALCON_MAILBOX_RESET_MAGIC),
    c("NV_FSP_EMEM_PORT2_CTRL", N.NV_FSP_EMEM_PORT2_CTRL), c("NV_FSP_EMEM_PORT2_DATA", N.NV_FSP_EMEM_PORT2_DATA),
    c("NV_FALCON_EMEMC_AINCR", N.NV_FALCON_EMEMC_AINCR), c("NV_FALCON_EMEMC_AINCW", N.NV_FALCON_EMEMC_AINCW),
    c("NV_FSP_RPC_MAX_PACKET_SIZE", N.NV_FSP_RPC_MAX_PACKET_SIZE), c("NV_FSP_RPC_EMEM_BASE", N.NV_FSP_RPC_EMEM_BASE),
    c("NV_FSP_QUEUE_HEAD", N.NV_FSP_QUEUE_HEAD), c("NV_FSP_QUEUE_TAIL", N.NV_FSP_QUEUE_TAIL),
    c("NV_FSP_MSG_QUEUE_HEAD", N.NV_FSP_MSG_QUEUE_HEAD), c("NV_FSP_MSG_QUEUE_TAIL", N.NV_FSP_MSG_QUEUE_TAIL),
    c("NV_MCTP_HDR_SEID_SHIFT", N.NV_MCTP_HDR_SEID_SHIFT), c("NV_MCTP_HDR_SEID_MASK", N.NV_MCTP_HDR_SEID_MASK),
    c("NV_MCTP_HDR_SEQ_SHIFT", N.NV_MCTP_HDR_SEQ_SHIFT), c("NV_MCTP_HDR_SEQ_MASK", N.NV_MCTP_HDR_SEQ_MASK),
    c("NV_MCTP_HDR_EOM_BIT", N.NV_MCTP_HDR_EOM_BIT), c("NV_MCTP_HDR_SOM_BIT", N.NV_MCTP_HDR_SOM_BIT),
    c("NV_MCTP_MSG_TYPE_SHIFT", N.NV_MCTP_MSG_TYPE_SHIFT), c("NV_MCTP_MSG_TYPE_MASK", N.NV_MCTP_MSG_TYPE_MASK),
    c("NV_MCTP_MSG_TYPE_VENDOR_DEFINED", N.NV_MCTP_MSG_TYPE_VENDOR_DEFINED),
    c("NV_MCTP_MSG_VENDOR_ID_SHIFT", N.NV_MCTP_MSG_VENDOR_ID_SHIFT), c("NV_MCTP_MSG_VENDOR_ID_MASK", N.NV_MCTP_MSG_VENDOR_ID_MASK),
    c("NV_MCTP_MSG_VENDOR_ID_NVIDIA", N.NV_MCTP_MSG_VENDOR_ID_NVIDIA),
    c("NV_MCTP_MSG_NVDM_TYPE_SHIFT", N.NV_MCTP_MSG_NVDM_TYPE_SHIFT), c("NV_MCTP_MSG_NVDM_TYPE_MASK", N.NV_MCTP_MSG_NVDM_TYPE_MASK),
    c("NV_NVDM_TYPE_RESPONSE", N.NV_NVDM_TYPE_RESPONSE), c("NV_FSP_RPC_MIN_RESPONSE_WORDS", N.NV_FSP_RPC_MIN_RESPONSE_WORDS),
    c("NV_OFA_DMA_SUPPORT_CHECK_REG", N.NV_OFA_DMA_SUPPORT_CHECK_REG), c("NV_NVDM_TYPE_FBDMA", N.NV_NVDM_TYPE_FBDMA),
    c("NV_FBDMA_SUBCMD_ENABLE", N.NV_FBDMA_SUBCMD_ENABLE),
    c("NV_FBIF_TRANSCFG_TARGET_MASK", N.NV_FBIF_TRANSCFG_TARGET_MASK),
    c("NV_FBIF_TRANSCFG_SYSMEM_DEFAULT", N.NV_FBIF_TRANSCFG_SYSMEM_DEFAULT),
    c("NV_FBIF_CTL_ALLOW_PHYS_MODE", N.NV_FBIF_CTL_ALLOW_PHYS_MODE),
    c("NV_FBIF_CTL_ALLOW_FULL_PHYS_MODE", N.NV_FBIF_CTL_ALLOW_FULL_PHYS_MODE),
    c("NV_MEM_CLEAR_OFFSET", N.NV_MEM_CLEAR_OFFSET), c("NV_BOOT_COMPLETE_OFFSET", N.NV_BOOT_COMPLETE_OFFSET),
    c("NV_BOOT_COMPLETE_SUCCESS", N.NV_BOOT_COMPLETE_SUCCESS), c("NV_FSP_BOOT_COMPLETE_OFFSET", N.NV_FSP_BOOT_COMPLETE_OFFSET),
    c("NV_FSP_BOOT_COMPLETE_SUCCESS", N.NV_FSP_BOOT_COMPLETE_SUCCESS),
    c("sizeof(struct gpu_device)", NVFalconDriver.gpuDeviceSize),
  ]
  let archNames = ["GPU_ARCH_UNKNOWN", "GPU_ARCH_KEPLER", "GPU_ARCH_MAXWELL_GEN1", "GPU_ARCH_MAXWELL_GEN2", "GPU_ARCH_PASCAL",
                   "GPU_ARCH_PASCAL_10X", "GPU_ARCH_VOLTA", "GPU_ARCH_TURING", "GPU_ARCH_AMPERE", "GPU_ARCH_ADA", "GPU_ARCH_HOPPER"]
  for (name, arch) in zip(archNames, N.GPUArch.allCases) { k.append(c("(long long)\(name)", arch.rawValue)) }
  let falconNames = ["FALCON_TYPE_PMU_LEGACY", "FALCON_TYPE_PMU", "FALCON_TYPE_GSP", "FALCON_TYPE_OFA"]
  for (name, t) in zip(falconNames, N.FalconType.allCases) { k.append(c(name, t.rawValue)) }
  k.append(c("sizeof(verified_gpu_map) / sizeof(verified_gpu_map[0])", N.verifiedGPUMap.count))
  for (i, v) in N.verifiedGPUMap.enumerated() { k.append(c("verified_gpu_map[\(i)]", v)) }
  k.append(c("sizeof(gpu_properties_map) / sizeof(gpu_properties_map[0])", N.gpuPropertiesMap.count))
  for (i, p) in N.gpuPropertiesMap.enumerated() {
    k += [c("gpu_properties_map[\(i)].pmc_enable_mask", p.pmcEnableMask),
          c("gpu_properties_map[\(i)].memory_clear_supported", p.memoryClearSupported ? 1 : 0),
          c("gpu_properties_map[\(i)].falcon_type", p.falconType.rawValue)]
  }
  k.append(c("sizeof(falcon_map) / sizeof(falcon_map[0])", N.falconMap.count))
  for (i, f) in N.falconMap.enumerated() {
    k += [c("falcon_map[\(i)].base_page", f.basePage), c("falcon_map[\(i)].dmactl", f.dmactl),
          c("falcon_map[\(i)].engine_reset", f.engineReset), c("falcon_map[\(i)].fbif_ctl", f.fbifCtl),
          c("falcon_map[\(i)].fbif_ctl2", f.fbifCtl2), c("falcon_map[\(i)].fbif_transcfg", f.fbifTranscfg),
          c("falcon_map[\(i)].dmem_control_reg", f.dmemControlReg), c("falcon_map[\(i)].dmem_data_reg", f.dmemDataReg),
          c("falcon_map[\(i)].no_outside_reset", f.noOutsideReset ? 1 : 0)]
  }
  // nv_gpu_arch_lookup over every architecture code, implementation 0 and 1, and the verified IDs
  var boots: [UInt32] = N.verifiedGPUMap
  for arch in UInt32(0)..<0x20 { boots += [arch << 24 | 0xa1, arch << 24 | 0x10_00a1, arch << 24 | 0xe0_0000] }
  boots.append(0xffff_ffff)
  for b in boots { k.append(c("(long long)nv_gpu_arch_lookup(\(hex(b)))", N.gpuArch(pmcBoot0: b).rawValue)) }
  for (seid, seq, som, eom) in [(0, 0, true, true), (0xab, 3, false, true), (0xff, 7, true, false), (0x12, 1, false, false)] as [(UInt8, UInt8, Bool, Bool)] {
    k.append(c("mctp_header_build(\(seid), \(seq), \(som), \(eom))", N.mctpHeader(seid: seid, seq: seq, som: som, eom: eom)))
  }
  for t: UInt8 in [0x00, 0x15, 0x22, 0xff] {
    k.append(c("mctp_msg_header_build(\(t))", N.mctpMessageHeader(nvdmType: t)))
    k.append(c("mctp_msg_header_get_nvdm_type(mctp_msg_header_build(\(t)))", N.nvdmType(ofMessageHeader: N.mctpMessageHeader(nvdmType: t))))
  }
  for a: UInt64 in Array(0..<260) + [0x1000, 0x1004, 0x10fc, 0xffff_ffff_ffff_ff00, 0xffff_ffff_ffff_fffc] {
    k.append(c("dma_block_remain(\(a)ULL)", N.dmaBlockRemain(a)))
  }
  for x: UInt64 in [1, 2, 3, 4, 5, 255, 256, 257, 4096, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff] {
    k.append(c("rounddown_pow_of_two(\(x)ULL)", N.roundDownPowerOfTwo(x)))
  }
  // size_to_dma_encoding's result, ffs(size) - 3, for every size it accepts
  for size: UInt64 in [4, 8, 16, 32, 64, 128, 256] { k.append(c("ffs(\(size)) - 3", N.dmaSizeEncoding(size)!)) }

  // igb: drivers/net/ethernet/intel/igb/e1000_{regs,defines,82575}.h, linux/mii.h, igb.c
  typealias G = IGBDriver
  k += [
    c("PCI_VENDOR_ID_INTEL", G.PCI_VENDOR_ID_INTEL), c("PCI_DEVICE_ID_INTEL_82576", G.PCI_DEVICE_ID_INTEL_82576),
    c("PCI_SUBSYSTEM_VENDOR_ID", PCIConfig.SUBSYSTEM_VENDOR_ID), c("PCI_SUBSYSTEM_ID", PCIConfig.SUBSYSTEM_ID),
    c("IGB_MAX_CHUNK_SIZE", G.IGB_MAX_CHUNK_SIZE), c("IGB_MSIX_VECTOR", G.MSIX_VECTOR),
    c("(1 << IGB_MSIX_VECTOR)", G.MSIX_VECTOR_MASK), c("RING_SIZE", IGBState.ringSize),
    c("E1000_CTRL", E1000.CTRL), c("E1000_EECD", E1000.EECD), c("E1000_CTRL_EXT", E1000.CTRL_EXT), c("E1000_MDIC", E1000.MDIC),
    c("E1000_IMC", E1000.IMC), c("E1000_RCTL", E1000.RCTL), c("E1000_TCTL", E1000.TCTL), c("E1000_EICS", E1000.EICS),
    c("E1000_EIMS", E1000.EIMS), c("E1000_EIMC", E1000.EIMC), c("E1000_EIAC", E1000.EIAC), c("E1000_EIAM", E1000.EIAM),
    c("E1000_EICR", E1000.EICR), c("E1000_GPIE", E1000.GPIE), c("E1000_IVAR0", E1000.IVAR0), c("E1000_GCR", E1000.GCR),
    c("E1000_CTRL_FD", E1000.CTRL_FD), c("E1000_CTRL_SLU", E1000.CTRL_SLU), c("E1000_CTRL_SPD_SEL", E1000.CTRL_SPD_SEL),
    c("E1000_CTRL_SPD_1000", E1000.CTRL_SPD_1000), c("E1000_CTRL_FRCSPD", E1000.CTRL_FRCSPD), c("E1000_CTRL_FRCDPX", E1000.CTRL_FRCDPX),
    c("E1000_CTRL_RST", E1000.CTRL_RST), c("E1000_CTRL_EXT_DRV_LOAD", E1000.CTRL_EXT_DRV_LOAD),
    c("E1000_CTRL_EXT_LINK_MODE_MASK", E1000.CTRL_EXT_LINK_MODE_MASK), c("E1000_EECD_AUTO_RD", E1000.EECD_AUTO_RD),
    c("E1000_MDIC_REG_SHIFT", E1000.MDIC_REG_SHIFT), c("E1000_MDIC_PHY_SHIFT", E1000.MDIC_PHY_SHIFT),
    c("E1000_MDIC_OP_WRITE", E1000.MDIC_OP_WRITE), c("E1000_MDIC_READY", E1000.MDIC_READY), c("E1000_MDIC_ERROR", E1000.MDIC_ERROR),
    c("E1000_RCTL_EN", E1000.RCTL_EN), c("E1000_RCTL_UPE", E1000.RCTL_UPE), c("E1000_RCTL_MPE", E1000.RCTL_MPE),
    c("E1000_RCTL_LBM_MAC", E1000.RCTL_LBM_MAC), c("E1000_RCTL_BAM", E1000.RCTL_BAM), c("E1000_RCTL_SECRC", E1000.RCTL_SECRC),
    c("E1000_TCTL_EN", E1000.TCTL_EN), c("E1000_TCTL_PSP", E1000.TCTL_PSP), c("E1000_GCR_CMPL_TMOUT_RESEND", E1000.GCR_CMPL_TMOUT_RESEND),
    c("E1000_GPIE_MSIX_MODE", E1000.GPIE_MSIX_MODE), c("E1000_GPIE_EIAME", E1000.GPIE_EIAME), c("E1000_IVAR_VALID", E1000.IVAR_VALID),
    c("E1000_TXDCTL_QUEUE_ENABLE", E1000.TXDCTL_QUEUE_ENABLE), c("E1000_RXDCTL_QUEUE_ENABLE", E1000.RXDCTL_QUEUE_ENABLE),
    c("E1000_SRRCTL_DESCTYPE_ADV_ONEBUF", E1000.SRRCTL_DESCTYPE_ADV_ONEBUF), c("E1000_ADVTXD_DTYP_DATA", E1000.ADVTXD_DTYP_DATA),
    c("E1000_ADVTXD_DCMD_EOP", E1000.ADVTXD_DCMD_EOP), c("E1000_ADVTXD_DCMD_IFCS", E1000.ADVTXD_DCMD_IFCS),
    c("E1000_ADVTXD_DCMD_DEXT", E1000.ADVTXD_DCMD_DEXT), c("E1000_ADVTXD_PAYLEN_SHIFT", E1000.ADVTXD_PAYLEN_SHIFT),
    c("MII_BMCR", MII.BMCR), c("BMCR_SPEED1000", MII.BMCR_SPEED1000), c("BMCR_FULLDPLX", MII.BMCR_FULLDPLX),
    c("BMCR_ANRESTART", MII.BMCR_ANRESTART), c("BMCR_ANENABLE", MII.BMCR_ANENABLE), c("BMCR_LOOPBACK", MII.BMCR_LOOPBACK),
    c("sizeof(struct igb)", IGBState.size), c("offsetof(struct igb, tx_ring)", IGBState.txRingOffset),
    c("offsetof(struct igb, rx_ring)", IGBState.rxRingOffset),
    c("sizeof(((struct igb *)0)->tx_ring) / sizeof(struct igb_tx_desc)", IGBState.ringSize),
    c("sizeof(((struct igb *)0)->rx_ring) / sizeof(struct igb_rx_desc)", IGBState.ringSize),
    c("sizeof(struct igb_tx_desc)", IGBState.descriptorSize), c("sizeof(struct igb_rx_desc)", IGBState.descriptorSize),
    c("offsetof(struct igb_tx_desc, read.buffer_addr)", IGBState.txBufferAddrOffset),
    c("offsetof(struct igb_tx_desc, read.cmd_type_len)", IGBState.txCmdTypeLenOffset),
    c("offsetof(struct igb_tx_desc, read.olinfo_status)", IGBState.txOlinfoStatusOffset),
    c("offsetof(struct igb_rx_desc, read.pkt_addr)", IGBState.rxPktAddrOffset),
    c("offsetof(struct igb_rx_desc, read.hdr_addr)", IGBState.rxHdrAddrOffset),
    c("offsetof(struct igb_rx_desc, wb.status_error)", IGBState.rxStatusErrorOffset),
  ]
  // The queue register macros for every queue the Swift layout covers (C's _n < 4 branch).
  for n in 0..<4 {
    k += [
      c("E1000_RDBAL(\(n))", E1000.RDBAL(n)), c("E1000_RDBAH(\(n))", E1000.RDBAH(n)), c("E1000_RDLEN(\(n))", E1000.RDLEN(n)),
      c("E1000_SRRCTL(\(n))", E1000.SRRCTL(n)), c("E1000_RDH(\(n))", E1000.RDH(n)), c("E1000_RDT(\(n))", E1000.RDT(n)),
      c("E1000_RXDCTL(\(n))", E1000.RXDCTL(n)), c("E1000_TDBAL(\(n))", E1000.TDBAL(n)), c("E1000_TDBAH(\(n))", E1000.TDBAH(n)),
      c("E1000_TDLEN(\(n))", E1000.TDLEN(n)), c("E1000_TDH(\(n))", E1000.TDH(n)), c("E1000_TDT(\(n))", E1000.TDT(n)),
      c("E1000_TXDCTL(\(n))", E1000.TXDCTL(n)),
    ]
  }
  return k
}()

/// Where the kernel sources are, or why there are none.
enum KernelDriverSources {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let driversDir = "tools/testing/selftests/vfio/lib/drivers"

  static var location: UAPIHeaders.Location {
    let env: String?
    do { env = try SelftestsEnvironment.current.path(.kernelSource) } catch { return .missing(error.description) }
    let root = URL(fileURLWithPath: env ?? packageRoot.appendingPathComponent(".build-vm/kernel-source").path)
    let needed = pieces.map { "\(driversDir)/\($0.file)" } + ["\(driversDir)/nv_falcon/hw.h", "tools/include/linux/types.h", "tools/include/linux/pci_ids.h", "include/uapi/linux/idxd.h", "include/uapi/linux/mii.h", "\(driversDir)/igb/e1000_regs.h", "\(driversDir)/igb/e1000_defines.h", "\(driversDir)/igb/e1000_82575.h"]
    for path in needed where !FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path) {
      let source = env.map { "VFIO_SELFTESTS_KERNEL_SOURCE=\($0)" } ?? root.path
      return .missing("no C selftest drivers: \(source) has no \(path) (run scripts/fetch-kernel-source.sh, or set VFIO_SELFTESTS_KERNEL_SOURCE to a Linux 7.3 source tree)")
    }
    return .found(root)
  }

  /// A `#define`, a struct or a function, verbatim from a driver source.
  static func extract(_ piece: DriverSourcePiece, from text: String) -> String? {
    let lines = text.components(separatedBy: "\n")
    switch piece.kind {
    case .define:
      let line = lines.first { $0.range(of: "^#define[ \t]+\(piece.name)[ \t]", options: .regularExpression) != nil }
      guard let alias = piece.alias else { return line }
      return line?.replacingOccurrences(of: "#define \(piece.name)", with: "#define \(alias)")
    case .structure, .function:
      let start: String = piece.kind == .structure ? "^struct \(piece.name) \\{" : "^static .*[ *]\(piece.name)\\("
      guard let first = lines.firstIndex(where: { $0.range(of: start, options: .regularExpression) != nil }),
            let last = lines[first...].firstIndex(where: { piece.kind == .structure ? $0.hasPrefix("};") : $0 == "}" })
      else { return nil }
      return lines[first...last].joined(separator: "\n")
    }
  }
}

/// Skips without the C drivers, saying why; in CI (CI=true, as .ci/run sets) fails instead, so
/// that CI cannot pass with the conformance test skipped.
struct RequiresKernelDriverSources: TestTrait {
  struct MissingInCI: Error, CustomStringConvertible { let description: String }

  func prepare(for test: Test) async throws {
    guard case .missing(let reason) = KernelDriverSources.location else { return }
    if ProcessInfo.processInfo.environment["CI"] == "true" { throw MissingInCI(description: "CI=true: \(reason)") }
    try Test.cancel(Comment(rawValue: reason))
  }
}

@Suite("selftest driver conformance")
struct DriverConformanceTests {
  @Test("every register, bit, descriptor layout, table entry and helper of the ported drivers matches the C drivers", RequiresKernelDriverSources())
  func matchesCDrivers() throws {
    guard case .found(let root) = KernelDriverSources.location else { return }
    let drivers = root.appendingPathComponent(KernelDriverSources.driversDir)
    var fromSources = ""
    for piece in pieces {
      let text = try String(contentsOf: drivers.appendingPathComponent(piece.file), encoding: .utf8)
      let code = try #require(KernelDriverSources.extract(piece, from: text), "\(piece.name) not found in \(piece.file)")
      fromSources += "/* \(piece.file): \(piece.name) */\n\(code)\n\n"
    }

    var source = """
      #include <stdio.h>
      #include <stddef.h>
      #include <stdint.h>
      #include <string.h>
      #include <strings.h>
      #include <stdbool.h>
      #include <linux/types.h>
      #include <linux/pci_ids.h>
      #include <linux/pci_regs.h>
      #include <linux/idxd.h>
      #include <linux/mii.h>
      #include "nv_falcon/hw.h"
      #include "igb/e1000_regs.h"
      #include "igb/e1000_defines.h"
      #include "igb/e1000_82575.h"

      """
    #if arch(x86_64)
    source += "#include \"ioat/hw.h\"\n#include \"ioat/registers.h\"\n#include \"dsa/registers.h\"\n"
    #endif
    source += """

      /* A bit field's word and mask: the field set to all ones in an all-zero object, as words. */
      static volatile unsigned long long all_ones = ~0ULL;
      #define WORDS_OF(x_, W) (sizeof(x_) / sizeof(W))
      #define FIELD_WORD(T, f, W) ({ T x_; memset(&x_, 0, sizeof(x_)); x_.f = all_ones; \\
        W w_[sizeof(x_) / sizeof(W)]; memcpy(w_, &x_, sizeof(x_)); unsigned long long i_ = 0; \\
        while (i_ < WORDS_OF(x_, W) && !w_[i_]) i_++; i_; })
      #define FIELD_MASK(T, f, W) ({ T x_; memset(&x_, 0, sizeof(x_)); x_.f = all_ones; \\
        W w_[sizeof(x_) / sizeof(W)]; memcpy(w_, &x_, sizeof(x_)); unsigned long long i_ = 0; \\
        while (i_ < WORDS_OF(x_, W) && !w_[i_]) i_++; i_ < WORDS_OF(x_, W) ? (unsigned long long)w_[i_] : 0ULL; })
      #define FIELD_IN(T, f, word) ({ T x_; memset(&x_, 0, sizeof(x_)); x_.f = all_ones; (unsigned long long)x_.word; })

      \(fromSources)
      int main(void) {

      """
    for check in driverChecks {
      source += "  printf(\"%llu\\n\", (unsigned long long)(\(check.cExpression)));\n"
    }
    source += "  return 0;\n}\n"

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vfio-selftests-drivers-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let probe = dir.appendingPathComponent("probe.c")
    try source.write(to: probe, atomically: true, encoding: .utf8)
    let binary = dir.appendingPathComponent("probe")
    // tools/include first (linux/types.h, linux/pci_ids.h as the selftests see them), then the
    // uAPI headers the drivers include (linux/idxd.h, linux/pci_regs.h).
    try UAPIHeaders.run("/usr/bin/env", ["cc", "-std=gnu11", "-Wall",
                                         "-I", root.appendingPathComponent("tools/include").path,
                                         "-I", root.appendingPathComponent("include/uapi").path,
                                         "-I", drivers.path, "-o", binary.path, probe.path])
    let values = try UAPIHeaders.run(binary.path, []).split(separator: "\n").map { UInt64($0) }
    try #require(values.count == driverChecks.count)
    var mismatches = 0
    for (check, real) in zip(driverChecks, values) where check.swiftValue != real {
      mismatches += 1
      Issue.record("\(check.cExpression): Swift driver has \(check.swiftValue) (0x\(String(check.swiftValue, radix: 16))), C says \(real.map { "\($0) (0x\(String($0, radix: 16)))" } ?? "?")")
    }
    print("driver conformance: \(driverChecks.count) values checked against \(root.path), \(mismatches) mismatches")
    #expect(driverChecks.count > 300)
  }
}
