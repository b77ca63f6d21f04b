// SPDX-License-Identifier: GPL-2.0-only
// The NVIDIA GPU falcon DMA selftest driver (tools/testing/selftests/vfio/lib/drivers/nv_falcon/
// nv_falcon.c, Linux 7.3), on every architecture as in C. Registers, tables and pure helpers in
// NVFalconHW.swift.
//
// NOT RUN ON HARDWARE: the lab has no NVIDIA GPU and no emulator for one. This port follows the
// C driver line by line; only its probe (on config-space and PMC_BOOT_0 values) has been
// exercised.
import SystemPackage

/// `nv_falcon_ops` (no `send_msi`: the falcon raises no MSI).
public final class NVFalconDriver: VFIOPCIDriverOps {
  public static let name = "nv_falcon"
  /// nv_falcon.c's `struct gpu_device`, which C keeps in the region (this port keeps it in the
  /// driver object; the region keeps C's size).
  static let gpuDeviceSize = 64
  public static var requiredRegionSize: Int { gpuDeviceSize }

  typealias HW = NVFalconHW

  let device: VFIOPCIDevice
  let bar0: DriverMMIO
  let arch: HW.GPUArch
  let isMemoryClearSupported: Bool
  let falcon: HW.Falcon
  let pmcEnableMask: UInt32
  private var fspDMAEnabled = false
  /// Pending memcpy parameters, set by memcpy_start()
  private var memcpySrc: UInt64 = 0
  private var memcpyDst: UInt64 = 0
  private var memcpySize: UInt64 = 0

  public private(set) var maxMemcpySize: UInt64 = 0
  public private(set) var maxMemcpyCount: UInt64 = 0
  public let msi: UInt32 = 0
  public var sendMSI: (() throws -> Void)? { nil }

  public static func probe(_ device: VFIOPCIDevice) -> Bool { probe(VFIOPCIProbeInput(device)) }

  /// `nv_falcon_probe`: an NVIDIA display-class function whose PMC_BOOT_0 names a known
  /// architecture; GPUs outside the validated list only get a note.
  public static func probe(_ input: VFIOPCIProbeInput) -> Bool {
    guard input.config16(PCIConfig.VENDOR_ID, driver: name) == HW.PCI_VENDOR_ID_NVIDIA else { return false }
    guard let classDevice = input.config16(HW.PCI_CLASS_DEVICE, driver: name), classDevice >> 8 == HW.PCI_BASE_CLASS_DISPLAY else {
      return false
    }
    // Read PMC_BOOT_0 register from BAR0 to identify GPU
    guard let pmcBoot0 = input.bar0Read(HW.NV_PMC_BOOT_0, as: UInt32.self) else { return false }
    guard HW.gpuArch(pmcBoot0: pmcBoot0) != .unknown else {
      devErr(input.device, "Unsupported GPU architecture for PMC_BOOT_0: \(hex(pmcBoot0))\n")
      return false
    }
    if HW.verifiedGPUMap.contains(pmcBoot0) { return true }
    devInfo(input.device, "Unvalidated GPU: PMC_BOOT_0: \(hex(pmcBoot0)), possibly not supported\n")
    return true
  }

  /// `nv_falcon_init`.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    bar0 = try DriverMMIO(device, bar: 0, driver: Self.name)
    guard region.memory.size >= Self.gpuDeviceSize else {
      throw VFIOError.driverDevice(.assertion(driver: Self.name, device: device.name, operation: "init",
                                               detail: "driver region of \(region.memory.size) bytes < sizeof(struct gpu_device) \(Self.gpuDeviceSize)"))
    }
    let pmcBoot0 = try bar0.read(HW.NV_PMC_BOOT_0, as: UInt32.self)
    arch = HW.gpuArch(pmcBoot0: pmcBoot0)
    // C indexes gpu_properties_map with it unchecked (probe refused unknown architectures).
    guard arch != .unknown else {
      throw VFIOError.driverDevice(.assertion(driver: Self.name, device: device.name, operation: "init",
                                               detail: "Unsupported GPU architecture for PMC_BOOT_0: \(hex(pmcBoot0))"))
    }
    let props = HW.gpuPropertiesMap[arch.rawValue]
    isMemoryClearSupported = props.memoryClearSupported
    falcon = HW.falconMap[props.falconType.rawValue]
    pmcEnableMask = props.pmcEnableMask

    // Initialize falcon for DMA
    do {
      try dmaInit()
    } catch let VFIOError.driverDevice(e) {
      devErr(device.name, "Failed to initialize falcon DMA: \(errnoCode(e).map(String.init) ?? "?")\n")
      throw VFIOError.driverDevice(e)
    }

    maxMemcpySize = HW.NV_FALCON_DMA_MAX_TRANSFER_SIZE
    maxMemcpyCount = HW.NV_FALCON_DMA_MAX_TRANSFER_COUNT
  }

  private func read32(_ offset: Int) throws -> UInt32 { try bar0.read(offset, as: UInt32.self) }
  private func write32(_ offset: Int, _ value: UInt32) throws { try bar0.write(value, offset) }

  private func fail(_ op: String, _ detail: String) -> VFIOError {
    .driverDevice(.assertion(driver: Self.name, device: device.name, operation: op, detail: detail))
  }

  /// The value C's int-returning helpers give for `e` (nil: C would have aborted).
  private func errnoCode(_ e: VFIOPCIDriverDeviceError) -> Int32? {
    switch e {
    case .timeout: -Errno.timedOut.rawValue
    case .failed(_, _, _, let code, _): code
    case .assertion, .barUnavailable: nil
    }
  }

  /// C's `return -E...;` as a typed error.
  private func cError(_ op: String, _ code: Int32, _ what: String) -> VFIOError {
    .driverDevice(.failed(driver: Self.name, device: device.name, operation: op, code: code, detail: what))
  }

  /// `gpu_poll_register`: every 1 ms until (value & mask) == expected, up to `timeoutMs`.
  private func pollRegister(_ name: String, _ offset: Int, expected: UInt32, mask: UInt32, timeoutMs: UInt64) throws {
    let start = monotonicMilliseconds()
    var value: UInt32
    var elapsed: UInt64
    while true {
      value = try read32(offset)
      if value & mask == expected { return }
      elapsed = monotonicMilliseconds() - start
      if elapsed >= timeoutMs { break }
      Syscalls.sleep(microseconds: 1000)
    }
    let detail = "Timeout polling \(name) (\(hex(offset))): value=\(hex(value)) expected=\(hex(expected)) mask=\(hex(mask)) after \(elapsed) ms"
    devErr(device.name, detail + "\n")
    throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "poll \(name)", limit: "\(timeoutMs) ms", detail: detail))
  }

  /// `fsp_poll_queue`: every 1 ms until the queue is empty (head == tail) or not, up to `timeoutMs`.
  private func pollQueue(_ name: String, head headReg: Int, tail tailReg: Int, waitEmpty: Bool, timeoutMs: UInt64) throws {
    let start = monotonicMilliseconds()
    var head: UInt32
    var tail: UInt32
    var elapsed: UInt64
    while true {
      head = try read32(headReg)
      tail = try read32(tailReg)
      if waitEmpty ? head == tail : head != tail { return }
      elapsed = monotonicMilliseconds() - start
      if elapsed >= timeoutMs { break }
      Syscalls.sleep(microseconds: 1000)
    }
    let detail = "Timeout polling \(name): head=\(hex(head)) tail=\(hex(tail)) wait_empty=\(waitEmpty ? 1 : 0) after \(elapsed) ms"
    devErr(device.name, detail + "\n")
    throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "poll \(name)", limit: "\(timeoutMs) ms", detail: detail))
  }

  /// `fsp_emem_write`: through EMEM port 2, auto-incrementing.
  private func fspEMEMWrite(_ offset: UInt32, _ data: [UInt32]) throws {
    try write32(HW.NV_FSP_EMEM_PORT2_CTRL, offset | HW.NV_FALCON_EMEMC_AINCR | HW.NV_FALCON_EMEMC_AINCW)
    for word in data { try write32(HW.NV_FSP_EMEM_PORT2_DATA, word) }
  }

  /// `fsp_emem_read`.
  private func fspEMEMRead(_ offset: UInt32, count: UInt32) throws -> [UInt32] {
    try write32(HW.NV_FSP_EMEM_PORT2_CTRL, offset | HW.NV_FALCON_EMEMC_AINCR | HW.NV_FALCON_EMEMC_AINCW)
    var data: [UInt32] = []
    for _ in 0..<count { data.append(try read32(HW.NV_FSP_EMEM_PORT2_DATA)) }
    return data
  }

  /// `fsp_rpc_send_data`.
  private func fspRPCSendData(_ data: [UInt32]) throws {
    try pollQueue("fsp_cmd_queue_empty", head: HW.NV_FSP_QUEUE_HEAD, tail: HW.NV_FSP_QUEUE_TAIL, waitEmpty: true, timeoutMs: 1000)
    try fspEMEMWrite(HW.NV_FSP_RPC_EMEM_BASE, data)
    // Update queue head/tail to signal data is ready
    try write32(HW.NV_FSP_QUEUE_TAIL, HW.NV_FSP_RPC_EMEM_BASE &+ (UInt32(data.count) &- 1) &* 4)
    try write32(HW.NV_FSP_QUEUE_HEAD, HW.NV_FSP_RPC_EMEM_BASE)
  }

  /// `fsp_rpc_receive_data`: at most `maxCount` words of the waiting message.
  private func fspRPCReceiveData(maxCount: UInt32, timeoutMs: UInt64) throws -> [UInt32] {
    try pollQueue("fsp_msg_queue_ready", head: HW.NV_FSP_MSG_QUEUE_HEAD, tail: HW.NV_FSP_MSG_QUEUE_TAIL, waitEmpty: false, timeoutMs: timeoutMs)
    let head = try read32(HW.NV_FSP_MSG_QUEUE_HEAD)
    let tail = try read32(HW.NV_FSP_MSG_QUEUE_TAIL)
    let words = min((tail &- head &+ 4) / 4, maxCount)
    let data = try fspEMEMRead(HW.NV_FSP_RPC_EMEM_BASE, count: words)
    // Reset message queue tail to acknowledge receipt
    try write32(HW.NV_FSP_MSG_QUEUE_TAIL, head)
    return data
  }

  /// `fsp_reset_rpc_state`: drains a pending message (best effort) and resets both queues.
  private func fspResetRPCState() throws {
    var head = try read32(HW.NV_FSP_QUEUE_HEAD)
    var tail = try read32(HW.NV_FSP_QUEUE_TAIL)
    if head == tail {
      head = try read32(HW.NV_FSP_MSG_QUEUE_HEAD)
      tail = try read32(HW.NV_FSP_MSG_QUEUE_TAIL)
      if head == tail { return }
    }
    // Best-effort drain; timeout is expected if no pending message.
    do {
      try pollQueue("fsp_msg_queue_drain", head: HW.NV_FSP_MSG_QUEUE_HEAD, tail: HW.NV_FSP_MSG_QUEUE_TAIL, waitEmpty: false, timeoutMs: 5000)
    } catch VFIOError.driverDevice(.timeout) {}
    try write32(HW.NV_FSP_QUEUE_TAIL, HW.NV_FSP_RPC_EMEM_BASE)
    try write32(HW.NV_FSP_QUEUE_HEAD, HW.NV_FSP_RPC_EMEM_BASE)
    try write32(HW.NV_FSP_MSG_QUEUE_TAIL, HW.NV_FSP_RPC_EMEM_BASE)
    try write32(HW.NV_FSP_MSG_QUEUE_HEAD, HW.NV_FSP_RPC_EMEM_BASE)
  }

  /// `fsp_rpc_send_cmd`: one MCTP packet, then the response must be an NVDM response to
  /// `nvdmType` with status 0.
  private func fspRPCSendCommand(nvdmType: UInt8, data: [UInt32], timeoutMs: UInt64) throws {
    let op = "FSP RPC \(hex(nvdmType))"
    let maxPacketWords = HW.NV_FSP_RPC_MAX_PACKET_SIZE / 4
    guard 2 + data.count <= Int(maxPacketWords) else { throw cError(op, -Errno.invalidArgument.rawValue, "\(2 + data.count) words > \(maxPacketWords)") }
    let packet = [HW.mctpHeader(seid: 0, seq: 0, som: true, eom: true), HW.mctpMessageHeader(nvdmType: nvdmType)] + data
    try fspRPCSendData(packet)

    let resp = try fspRPCReceiveData(maxCount: 256, timeoutMs: timeoutMs)
    guard resp.count >= HW.NV_FSP_RPC_MIN_RESPONSE_WORDS else { throw cError(op, -Errno.protocolError.rawValue, "response of \(resp.count) words") }
    let respType = HW.nvdmType(ofMessageHeader: resp[1])
    guard UInt32(respType) == HW.NV_NVDM_TYPE_RESPONSE else { throw cError(op, -Errno.protocolError.rawValue, "response NVDM type \(hex(respType))") }
    guard resp[3] == UInt32(nvdmType) else { throw cError(op, -Errno.protocolError.rawValue, "response to NVDM type \(hex(resp[3]))") }
    guard resp[4] == 0 else {
      // C returns -resp_buf[4]
      throw cError(op, Int32(bitPattern: 0 &- resp[4]), "FSP status \(hex(resp[4]))")
    }
  }

  /// `fsp_init`.
  private func fspInit() throws {
    try pollRegister("fsp_boot_complete", HW.NV_FSP_BOOT_COMPLETE_OFFSET, expected: HW.NV_FSP_BOOT_COMPLETE_SUCCESS, mask: 0xffff_ffff, timeoutMs: 5000)
    try fspResetRPCState()
  }

  /// `fsp_fbdma_enable`.
  private func fspFBDMAEnable() throws {
    if fspDMAEnabled { return }
    try fspRPCSendCommand(nvdmType: UInt8(HW.NV_NVDM_TYPE_FBDMA), data: [HW.NV_FBDMA_SUBCMD_ENABLE], timeoutMs: 5000)
    fspDMAEnabled = true
  }

  /// `fsp_check_ofa_dma_support`.
  private func fspCheckOFADMASupport() throws -> Bool { try read32(HW.NV_OFA_DMA_SUPPORT_CHECK_REG) >> 16 != 0xbadf }

  /// `falcon_dmem_port_configure`.
  private func dmemPortConfigure(offset: UInt32, autoIncRead: Bool, autoIncWrite: Bool) throws {
    var memc = offset
    if autoIncRead { memc |= HW.NV_PPWR_FALCON_DMEMC_AINCR_TRUE }
    if autoIncWrite { memc |= HW.NV_PPWR_FALCON_DMEMC_AINCW_TRUE }
    try write32(falcon.dmemControlReg, memc)
  }

  /// `falcon_select_core_falcon`: clear bits 4:5 to select the falcon core (not RISC-V).
  private func selectCoreFalcon() throws {
    let reg = falcon.basePage + HW.NV_FALCON_CORE_SELECT_OFFSET
    try write32(reg, try read32(reg) & ~HW.NV_FALCON_CORE_SELECT_MASK)
  }

  /// `falcon_enable`.
  private func falconEnable() throws {
    if falcon.noOutsideReset { return }
    // Ada-specific: Check if falcon needs reset before enable
    if arch == .ada {
      if try read32(falcon.basePage + HW.NV_FALCON_MAILBOX_TEST_OFFSET) == HW.NV_FALCON_MAILBOX_RESET_MAGIC {
        try write32(falcon.engineReset, 1)
      }
    }
    if pmcEnableMask != 0 {
      try write32(HW.NV_PMC_ENABLE, try read32(HW.NV_PMC_ENABLE) | pmcEnableMask)
    } else {
      // Enable by deasserting engine reset
      try write32(falcon.engineReset, 0)
    }
    if arch < .hopper {
      try selectCoreFalcon()
      // Wait for DMACTL to be ready (bits 1:2 should be 0)
      try pollRegister("falcon_dmactl", falcon.dmactl, expected: 0, mask: HW.NV_FALCON_DMACTL_READY_MASK, timeoutMs: 1000)
    }
  }

  /// `falcon_disable`.
  private func falconDisable() throws {
    if falcon.noOutsideReset { return }
    if pmcEnableMask != 0 {
      try write32(HW.NV_PMC_ENABLE, try read32(HW.NV_PMC_ENABLE) & ~pmcEnableMask)
    } else {
      // Disable by asserting engine reset
      try write32(falcon.engineReset, 1)
    }
  }

  /// `nv_falcon_dma_init`.
  private func dmaInit() throws {
    try device.commandSet(PCIConfig.COMMAND_MASTER)

    if arch >= .hopper {
      do { try fspInit() } catch let VFIOError.driverDevice(e) {
        devErr(device.name, "Failed to init FSP: \(errnoCode(e).map(String.init) ?? "?")\n")
        throw VFIOError.driverDevice(e)
      }
      do { try fspFBDMAEnable() } catch let VFIOError.driverDevice(e) {
        devErr(device.name, "Failed to enable FSP FBDMA: \(errnoCode(e).map(String.init) ?? "?")\n")
        throw VFIOError.driverDevice(e)
      }
      guard try fspCheckOFADMASupport() else {
        devErr(device.name, "OFA DMA not supported with current firmware\n")
        throw cError("init", -Errno.notSupported.rawValue, "OFA DMA not supported with current firmware")
      }
    }

    if isMemoryClearSupported, arch >= .turing {
      // Wait for boot complete - Hopper+ uses FSP register
      if arch >= .hopper {
        try pollRegister("fsp_boot_complete", HW.NV_FSP_BOOT_COMPLETE_OFFSET, expected: HW.NV_FSP_BOOT_COMPLETE_SUCCESS, mask: 0xffff_ffff, timeoutMs: 5000)
      } else {
        try pollRegister("boot_complete", HW.NV_BOOT_COMPLETE_OFFSET, expected: HW.NV_BOOT_COMPLETE_SUCCESS, mask: 0xffff_ffff, timeoutMs: 5000)
      }
      try pollRegister("memory_clear_finished", HW.NV_MEM_CLEAR_OFFSET, expected: 0x1, mask: 0xffff_ffff, timeoutMs: 5000)
    }

    // falcon_reset
    try falconDisable()
    try falconEnable()

    try dmemPortConfigure(offset: 0, autoIncRead: false, autoIncWrite: false)

    var transcfg = try read32(falcon.fbifTranscfg)
    transcfg &= ~HW.NV_FBIF_TRANSCFG_TARGET_MASK
    transcfg |= HW.NV_FBIF_TRANSCFG_SYSMEM_DEFAULT
    try write32(falcon.fbifTranscfg, transcfg)

    try write32(falcon.fbifCtl2, 0x1)

    try write32(falcon.fbifCtl, try read32(falcon.fbifCtl) | HW.NV_FBIF_CTL_ALLOW_PHYS_MODE | HW.NV_FBIF_CTL_ALLOW_FULL_PHYS_MODE)

    try write32(falcon.dmactl, try read32(falcon.dmactl) & ~HW.NV_FALCON_DMACTL_DMEM_SCRUBBING)
  }

  /// `nv_falcon_dma`: one transfer between DMEM offset 0 and `address` (write: DMEM to memory).
  private func dma(address: UInt64, size: UInt64, write: Bool) throws {
    try write32(HW.NV_GPU_DMA_ADDR_TOP_BITS_REG, UInt32((address >> 47) & 0x1ffff))
    try write32(falcon.basePage + HW.NV_FALCON_DMA_ADDR_HIGH_OFFSET, UInt32((address >> 40) & 0x7f))
    try write32(falcon.basePage + HW.NV_FALCON_DMA_ADDR_LOW_OFFSET, UInt32((address >> 8) & 0xffff_ffff))
    try write32(falcon.basePage + HW.NV_FALCON_DMA_BLOCK_OFFSET, UInt32(address & 0xff))
    try write32(falcon.basePage + HW.NV_FALCON_DMA_MEM_OFFSET, 0)

    guard let encoding = HW.dmaSizeEncoding(size) else {
      throw fail("memcpy_wait", "DMA size \(size) is not a power of 2 in [\(HW.NV_FALCON_DMA_MIN_TRANSFER_SIZE), \(HW.NV_FALCON_DMA_MAX_TRANSFER_SIZE)]")
    }
    var cmd = encoding << HW.NV_FALCON_DMA_CMD_SIZE_SHIFT
    // Set direction: write (DMEM->mem) or read (mem->DMEM)
    if write { cmd |= HW.NV_FALCON_DMA_CMD_WRITE_BIT }
    try write32(falcon.basePage + HW.NV_FALCON_DMA_CMD_OFFSET, cmd)

    do {
      try pollRegister("dma_done", falcon.basePage + HW.NV_FALCON_DMA_CMD_OFFSET,
                       expected: HW.NV_FALCON_DMA_CMD_DONE_BIT, mask: HW.NV_FALCON_DMA_CMD_DONE_BIT, timeoutMs: 1000)
    } catch let VFIOError.driverDevice(e) {
      devErr(device.name, "Failed DMA \(write ? "write" : "read") (addr=\(hex(address)), size=\(size))\n")
      throw VFIOError.driverDevice(e)
    }
  }

  /// `nv_falcon_remove`.
  public func remove() throws {
    try falconDisable()
    try device.commandClear(PCIConfig.COMMAND_MASTER)
  }

  /// `nv_falcon_memcpy_start`: the falcon does one transfer at a time, so this only records the
  /// request; memcpy_wait does the work.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    guard count == 1 else { throw fail("memcpy_start", "count \(count) != 1") }
    guard size & (HW.NV_FALCON_DMA_MIN_TRANSFER_SIZE - 1) == 0 else {
      throw fail("memcpy_start", "size \(hex(size)) must be \(HW.NV_FALCON_DMA_MIN_TRANSFER_SIZE)-byte aligned")
    }
    memcpySrc = src
    memcpyDst = dst
    memcpySize = size
  }

  /// `nv_falcon_memcpy_wait`: each chunk read into DMEM, then written out. As C, a DMA that
  /// does not complete in time ends the copy with -ETIMEDOUT (after saying so).
  public func memcpyWait() throws -> Int32 {
    for c in HW.chunks(src: memcpySrc, dst: memcpyDst, size: memcpySize) {
      do {
        try dma(address: c.src, size: c.size, write: false)
        try dma(address: c.dst, size: c.size, write: true)
      } catch VFIOError.driverDevice(.timeout) {
        return -Errno.timedOut.rawValue
      }
    }
    return 0
  }
}
