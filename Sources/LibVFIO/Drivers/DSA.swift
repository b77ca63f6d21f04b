// SPDX-License-Identifier: GPL-2.0-only
// The Intel Data Streaming Accelerator selftest driver (tools/testing/selftests/vfio/lib/drivers/
// dsa/dsa.c, Linux 7.3), x86_64 only as in C. Registers from drivers/dma/idxd/registers.h,
// descriptor and completion record from include/uapi/linux/idxd.h; Tests/UAPIConformanceTests/
// DriverConformanceTests.swift checks every value here against those headers.
//
// NOT RUN ON HARDWARE: the lab has no DSA device and no emulator for one. This port follows the
// C driver line by line; only its probe (on config-space values) has been exercised.
#if arch(x86_64)
import CVFIOShim

/// drivers/dma/idxd/registers.h, include/uapi/linux/idxd.h and linux/pci_ids.h: what dsa.c uses.
enum DSAHW {
  static let PCI_VENDOR_ID_INTEL: UInt16 = 0x8086
  static let PCI_DEVICE_ID_INTEL_DSA_SPR0: UInt16 = 0x0b25
  static let PCI_DEVICE_ID_INTEL_DSA_DMR: UInt16 = 0x1212
  static let PCI_DEVICE_ID_INTEL_DSA_GNRD: UInt16 = 0x11fb

  static let IDXD_GENCAP_OFFSET = 0x10
  static let IDXD_WQCAP_OFFSET = 0x20
  static let IDXD_WQCFG_MIN = 5
  static let IDXD_GRPCAP_OFFSET = 0x30
  static let IDXD_ENGCAP_OFFSET = 0x38
  static let IDXD_TABLE_OFFSET = 0x60
  static let IDXD_TABLE_MULT = 0x100
  static let IDXD_CMD_OFFSET = 0xa0
  static let IDXD_CMDSTS_OFFSET = 0xa8
  static let IDXD_CMDSTS_ACTIVE: UInt32 = 0x8000_0000
  static let IDXD_CMDSTS_ERR_MASK: UInt32 = 0xff
  static let IDXD_CMDCAP_OFFSET = 0xb0
  static let IDXD_SWERR_OFFSET = 0xc0

  // enum idxd_cmd
  static let IDXD_CMD_ENABLE_DEVICE: UInt32 = 1
  static let IDXD_CMD_RESET_DEVICE: UInt32 = 5
  static let IDXD_CMD_ENABLE_WQ: UInt32 = 6
  static let IDXD_CMD_REQUEST_INT_HANDLE: UInt32 = 13

  // union gen_cap_reg
  static let genCapCmdCap = RegisterField(shift: 4, width: 1)
  static let genCapMaxXferShift = RegisterField(shift: 16, width: 5)
  static let genCapMaxBatchShift = RegisterField(shift: 21, width: 4)
  // union wq_cap_reg
  static let wqCapTotalWQSize = RegisterField(shift: 0, width: 16)
  static let wqCapNumWQs = RegisterField(shift: 16, width: 8)
  static let wqCapWQCfgSize = RegisterField(shift: 24, width: 4)
  static let wqCapWQATSSupport = RegisterField(shift: 50, width: 1)
  // union group_cap_reg, union engine_cap_reg
  static let groupCapNumGroups = RegisterField(shift: 0, width: 8)
  static let engineCapNumEngines = RegisterField(shift: 0, width: 8)
  // union offsets_reg (bits[0])
  static let offsetsGrpCfg = RegisterField(shift: 0, width: 16)
  static let offsetsWQCfg = RegisterField(shift: 16, width: 16)
  // union idxd_command_reg
  static let commandCmd = RegisterField(shift: 20, width: 5)

  /// union sw_err_reg: its four u64 words, and each field as (word, field).
  static let swErrWords = 4
  static let swErrFields: [(name: String, word: Int, field: RegisterField)] = [
    ("valid", 0, RegisterField(shift: 0, width: 1)),
    ("overflow", 0, RegisterField(shift: 1, width: 1)),
    ("desc_valid", 0, RegisterField(shift: 2, width: 1)),
    ("wq_idx_valid", 0, RegisterField(shift: 3, width: 1)),
    ("batch", 0, RegisterField(shift: 4, width: 1)),
    ("fault_rw", 0, RegisterField(shift: 5, width: 1)),
    ("priv", 0, RegisterField(shift: 6, width: 1)),
    ("error", 0, RegisterField(shift: 8, width: 8)),
    ("wq_idx", 0, RegisterField(shift: 16, width: 8)),
    ("operation", 0, RegisterField(shift: 32, width: 8)),
    ("pasid", 0, RegisterField(shift: 40, width: 20)),
    ("batch_idx", 1, RegisterField(shift: 0, width: 16)),
    ("invalid_flags", 1, RegisterField(shift: 32, width: 32)),
    ("fault_addr", 2, RegisterField(shift: 0, width: 64)),
  ]

  /// struct grpcfg
  static let grpcfgWQs0Offset = 0
  static let grpcfgEnginesOffset = 32

  /// union wqcfg: 16 u32 words; each field the driver sets as (word, field).
  static let wqcfgWords = 16
  static let wqcfgWQSize = (word: 0, field: RegisterField(shift: 0, width: 16))
  static let wqcfgMode = (word: 2, field: RegisterField(shift: 0, width: 1))
  static let wqcfgWQATSDisable = (word: 2, field: RegisterField(shift: 2, width: 1))
  static let wqcfgPriority = (word: 2, field: RegisterField(shift: 4, width: 4))
  static let wqcfgMaxXferShift = (word: 3, field: RegisterField(shift: 0, width: 5))
  static let wqcfgMaxBatchShift = (word: 3, field: RegisterField(shift: 5, width: 4))
  /// `op_config[0]`, a u64 at bytes 32..<40: words 8 (low) and 9 (high).
  static let wqcfgOpConfig0Word = 8

  // include/uapi/linux/idxd.h
  static let IDXD_OP_FLAG_CRAV: UInt32 = 0x0004
  static let IDXD_OP_FLAG_RCR: UInt32 = 0x0008
  static let IDXD_OP_FLAG_RCI: UInt32 = 0x0010
  static let DSA_OPCODE_BATCH: UInt32 = 1
  static let DSA_OPCODE_MEMMOVE: UInt32 = 3
  static let DSA_COMP_SUCCESS: UInt8 = 1
}

/// struct dsa_hw_desc (64 bytes, packed): the fields dsa.c sets.
struct DSAHWDesc {
  static let size = 64
  /// `pasid:20, rsvd:11, priv:1` in the first u32.
  static let privWord = 0
  static let priv = RegisterField(shift: 31, width: 1)
  /// `flags:24, opcode:8` in the second u32.
  static let flagsWord = 1
  static let flags = RegisterField(shift: 0, width: 24)
  static let opcode = RegisterField(shift: 24, width: 8)
  static let completionAddrOffset = 8
  static let srcAddrOffset = 16  // also desc_list_addr
  static let dstAddrOffset = 24
  static let xferSizeOffset = 32  // also desc_count
  static let intHandleOffset = 36

  var opcode: UInt32 = 0
  var flags: UInt32 = 0
  var priv: UInt32 = 0
  var completionAddr: UInt64 = 0
  var srcAddr: UInt64 = 0  // or desc_list_addr
  var dstAddr: UInt64 = 0
  var xferSize: UInt32 = 0  // or desc_count
  var intHandle: UInt16 = 0

  /// The descriptor's bytes, every other field zero (C assigns a compound literal).
  var bytes: [UInt8] {
    var b = [UInt8](repeating: 0, count: Self.size)
    func put<T: FixedWidthInteger>(_ v: T, _ at: Int) {
      for i in 0..<MemoryLayout<T>.size { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    put(UInt32(Self.priv.set(UInt64(priv), in: 0)), Self.privWord * 4)
    put(UInt32(Self.opcode.set(UInt64(opcode), in: Self.flags.set(UInt64(flags), in: 0))), Self.flagsWord * 4)
    put(completionAddr, Self.completionAddrOffset)
    put(srcAddr, Self.srcAddrOffset)
    put(dstAddr, Self.dstAddrOffset)
    put(xferSize, Self.xferSizeOffset)
    put(intHandle, Self.intHandleOffset)
    return b
  }
}

/// struct dsa_completion_record (32 bytes, packed): `status` is its first byte.
enum DSACompletionRecord {
  static let size = 32
  static let statusOffset = 0
}

/// dsa.c's `struct dsa_state`, kept in the driver region. The device reads the descriptors and
/// writes the completion records; the rest (cached registers and counts) the port keeps in the
/// driver object, but the region keeps C's size.
enum DSAState {
  static let batchCount = 32
  static let copyCount = 1024
  static let batchOffset = 0
  static let copyOffset = 2048
  static let copyCompletionOffset = 67584
  static let batchCompletionOffset = 67616
  static let sendMSISrcOffset = 67736
  static let sendMSIDstOffset = 67744
  static let size = 67752
}

/// `dsa_ops`.
public final class DSADriver: VFIOPCIDriverOps {
  public static let name = "dsa"
  /// dsa.c's `MSIX_VECTOR`: vectors 1+ serve work queue completion interrupts.
  static let MSIX_VECTOR: UInt32 = 1
  public static var requiredRegionSize: Int { DSAState.size }

  let device: VFIOPCIDevice
  let region: VFIOPCIDriverRegion
  let bar0: DriverMMIO
  let bar2: DriverMMIO
  // The register cache (dsa_register_cache_init)
  private(set) var genCap: UInt64 = 0
  private(set) var wqCap: UInt64 = 0
  private(set) var groupCap: UInt64 = 0
  private(set) var engineCap: UInt64 = 0
  private(set) var tableOffsets: (UInt64, UInt64) = (0, 0)
  private(set) var wqcfgTable = 0
  private(set) var grpcfgTable = 0
  private(set) var maxBatches: UInt64 = 0
  private(set) var maxCopiesPerBatch: UInt64 = 0
  /// The number of ongoing memcpy operations.
  private var memcpyCount: UInt64 = 0

  public private(set) var maxMemcpySize: UInt64 = 0
  public private(set) var maxMemcpyCount: UInt64 = 0
  public private(set) var msi: UInt32 = 0

  public static func probe(_ device: VFIOPCIDevice) -> Bool { probe(VFIOPCIProbeInput(device)) }

  /// `dsa_probe`: Intel DSA on Sapphire Rapids, Diamond Rapids or Granite Rapids-D, unless the
  /// device needs interrupt handles requested (`dsa_int_handle_request_required`).
  public static func probe(_ input: VFIOPCIProbeInput) -> Bool {
    guard let vendor = input.config16(PCIConfig.VENDOR_ID, driver: name),
          let deviceID = input.config16(PCIConfig.DEVICE_ID, driver: name)
    else { return false }
    guard vendor == DSAHW.PCI_VENDOR_ID_INTEL else { return false }
    switch deviceID {
    case DSAHW.PCI_DEVICE_ID_INTEL_DSA_SPR0, DSAHW.PCI_DEVICE_ID_INTEL_DSA_DMR, DSAHW.PCI_DEVICE_ID_INTEL_DSA_GNRD:
      break
    default:
      return false
    }
    // C reads BAR0 unchecked here; without it this port matches nothing.
    guard let genCap = input.bar0Read(DSAHW.IDXD_GENCAP_OFFSET, as: UInt64.self),
          let cmdCap = input.bar0Read(DSAHW.IDXD_CMDCAP_OFFSET, as: UInt32.self)
    else {
      devErr(input.device, "dsa: BAR0 is not mapped\n")
      return false
    }
    if DSAHW.genCapCmdCap.get(genCap) != 0, (cmdCap >> DSAHW.IDXD_CMD_REQUEST_INT_HANDLE) & 1 != 0 {
      devErr(input.device, "Device requires requesting interrupt handles\n")
      return false
    }
    return true
  }

  private func fail(_ op: String, _ detail: String) -> VFIOError {
    .driverDevice(.assertion(driver: Self.name, device: device.name, operation: op, detail: detail))
  }

  private func iova(_ offset: Int) -> UInt64 { region.iova + UInt64(offset) }

  /// `dsa_init`.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    self.region = region
    bar0 = try DriverMMIO(device, bar: 0, driver: Self.name)
    bar2 = try DriverMMIO(device, bar: 2, driver: Self.name)
    guard region.memory.size >= DSAState.size else {
      throw VFIOError.driverDevice(.assertion(driver: Self.name, device: device.name, operation: "init",
                                               detail: "driver region of \(region.memory.size) bytes < sizeof(struct dsa_state) \(DSAState.size)"))
    }

    try device.configWrite(PCIConfig.COMMAND, PCIConfig.COMMAND_MEMORY | PCIConfig.COMMAND_MASTER | PCIConfig.COMMAND_INTX_DISABLE)

    try command(DSAHW.IDXD_CMD_RESET_DEVICE)

    try registerCacheInit()
    try wqInit()
    try groupInit()

    try command(DSAHW.IDXD_CMD_ENABLE_DEVICE)
    try command(DSAHW.IDXD_CMD_ENABLE_WQ)

    try device.enableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: Self.MSIX_VECTOR, count: 1)

    maxMemcpyCount = maxBatches * maxCopiesPerBatch
    maxMemcpySize = UInt64(1) << DSAHW.genCapMaxXferShift.get(genCap)
    msi = Self.MSIX_VECTOR
  }

  /// `dsa_check_sw_err`: SWERR valid is fatal (C: VFIO_FAIL after printing every field).
  private func checkSWErr() throws {
    var bits = [UInt64](repeating: 0, count: DSAHW.swErrWords)
    for i in 0..<DSAHW.swErrWords {
      bits[i] = try bar0.read(DSAHW.IDXD_SWERR_OFFSET + 8 * i, as: UInt64.self)
      // No errors
      if i == 0, DSAHW.swErrFields[0].field.get(bits[0]) == 0 { return }
    }
    var text = "SWERR: " + bits.map { "0x" + hex($0, width: 16) }.joined(separator: " ") + "\n"
    for f in DSAHW.swErrFields { text += "  \(f.name): \(hex(f.field.get(bits[f.word])))\n" }
    devErr(device.name, text)
    throw fail("SWERR check", "Software Error Detected! " + bits.map { "0x" + hex($0, width: 16) }.joined(separator: " "))
  }

  /// `dsa_command`: writes the command, then up to 5000 polls 1 ms apart (each checking SWERR)
  /// until CMDSTS is no longer active; the status's error byte must be 0.
  private func command(_ cmd: UInt32) throws {
    let sleepMs: UInt32 = 1
    var attempts: UInt32 = 5000 / sleepMs
    var status: UInt32

    try bar0.write(UInt32(DSAHW.commandCmd.set(UInt64(cmd), in: 0)), DSAHW.IDXD_CMD_OFFSET)

    while true {
      try checkSWErr()
      status = try bar0.read(DSAHW.IDXD_CMDSTS_OFFSET, as: UInt32.self)
      if status & DSAHW.IDXD_CMDSTS_ACTIVE == 0 { break }
      attempts -= 1
      guard attempts > 0 else {
        throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "command \(hex(cmd))",
                                               limit: "5000 polls 1 ms apart", detail: "CMDSTS still active (\(hex(status)))"))
      }
      Syscalls.sleep(microseconds: sleepMs * 1000)
    }

    let err = status & DSAHW.IDXD_CMDSTS_ERR_MASK
    guard err == 0 else { throw fail("command \(hex(cmd))", "Error issuing command \(hex(cmd)): \(hex(err))") }
  }

  /// `dsa_wq_init`: WQ 0, dedicated, priority 1, ATS disabled where supported (so tests can
  /// cause I/O page faults), MEMMOVE and BATCH only.
  private func wqInit() throws {
    guard DSAHW.wqCapNumWQs.get(wqCap) > 0 else { throw fail("init", "wq_cap.num_wqs is 0") }

    var words = [UInt32](repeating: 0, count: DSAHW.wqcfgWords)
    func put(_ f: (word: Int, field: RegisterField), _ v: UInt64) {
      words[f.word] = UInt32(truncatingIfNeeded: f.field.set(v, in: UInt64(words[f.word])))
    }
    put(DSAHW.wqcfgWQSize, DSAHW.wqCapTotalWQSize.get(wqCap))
    put(DSAHW.wqcfgMode, 1)
    put(DSAHW.wqcfgPriority, 1)
    put(DSAHW.wqcfgWQATSDisable, DSAHW.wqCapWQATSSupport.get(wqCap))
    put(DSAHW.wqcfgMaxXferShift, DSAHW.genCapMaxXferShift.get(genCap))
    put(DSAHW.wqcfgMaxBatchShift, DSAHW.genCapMaxBatchShift.get(genCap))
    let opConfig0 = UInt64(1) << DSAHW.DSA_OPCODE_MEMMOVE | UInt64(1) << DSAHW.DSA_OPCODE_BATCH
    words[DSAHW.wqcfgOpConfig0Word] = UInt32(truncatingIfNeeded: opConfig0)
    words[DSAHW.wqcfgOpConfig0Word + 1] = UInt32(truncatingIfNeeded: opConfig0 >> 32)

    let wqcfgSize = 1 << (Int(DSAHW.wqCapWQCfgSize.get(wqCap)) + DSAHW.IDXD_WQCFG_MIN)
    // C writes wqcfg_size / 4 words of its 16-word union (reading past it when the device's
    // WQCFG is larger); this port writes zeros there.
    for i in 0..<(wqcfgSize / 4) {
      try bar0.write(i < words.count ? words[i] : 0, wqcfgTable + 4 * i)
    }
  }

  /// `dsa_group_init`: work queue 0 and engine 0 in group 0.
  private func groupInit() throws {
    guard DSAHW.groupCapNumGroups.get(groupCap) > 0 else { throw fail("init", "group_cap.num_groups is 0") }
    guard DSAHW.engineCapNumEngines.get(engineCap) > 0 else { throw fail("init", "engine_cap.num_engines is 0") }
    try bar0.write(UInt64(1), grpcfgTable + DSAHW.grpcfgWQs0Offset)
    try bar0.write(UInt64(1), grpcfgTable + DSAHW.grpcfgEnginesOffset)
  }

  /// `dsa_register_cache_init`.
  private func registerCacheInit() throws {
    genCap = try bar0.read(DSAHW.IDXD_GENCAP_OFFSET)
    wqCap = try bar0.read(DSAHW.IDXD_WQCAP_OFFSET)
    groupCap = try bar0.read(DSAHW.IDXD_GRPCAP_OFFSET)
    engineCap = try bar0.read(DSAHW.IDXD_ENGCAP_OFFSET)
    tableOffsets = (try bar0.read(DSAHW.IDXD_TABLE_OFFSET), try bar0.read(DSAHW.IDXD_TABLE_OFFSET + 8))

    wqcfgTable = Int(DSAHW.offsetsWQCfg.get(tableOffsets.0)) * DSAHW.IDXD_TABLE_MULT
    grpcfgTable = Int(DSAHW.offsetsGrpCfg.get(tableOffsets.0)) * DSAHW.IDXD_TABLE_MULT

    // 1U << (total_wq_size + 5): x86_64 shifts a 32-bit value by the count mod 32, as &<< does.
    let shift = UInt32(truncatingIfNeeded: DSAHW.wqCapTotalWQSize.get(wqCap)) + UInt32(DSAHW.IDXD_WQCFG_MIN)
    maxBatches = min(UInt64(UInt32(1) &<< shift), UInt64(DSAState.batchCount))

    maxCopiesPerBatch = min(UInt64(1) << DSAHW.genCapMaxBatchShift.get(genCap), UInt64(DSAState.copyCount))
  }

  /// `dsa_remove`.
  public func remove() throws {
    try command(DSAHW.IDXD_CMD_RESET_DEVICE)
    try device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
  }

  /// `dsa_completion_wait`: polls the record's status every 1 ms, checking SWERR each time; 0
  /// on success, -1 (after saying so) on any other status. C polls without a limit; this port
  /// gives up after 60 s with a typed error.
  private func completionWait(_ offset: Int, _ op: String) throws -> Int32 {
    let start = monotonicMilliseconds()
    var status: UInt8
    while true {
      try checkSWErr()
      status = region.memory.load(at: offset + DSACompletionRecord.statusOffset, as: UInt8.self)
      if status != 0 { break }
      if monotonicMilliseconds() - start >= driverUnboundedPollLimitMilliseconds {
        throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: op,
                                               limit: "\(driverUnboundedPollLimitMilliseconds) ms (C polls without a limit)",
                                               detail: "completion record status still 0"))
      }
      Syscalls.sleep(microseconds: 1000)
    }
    if status == DSAHW.DSA_COMP_SUCCESS { return 0 }
    devErr(device.name, "Error detected during memcpy operation: \(hex(status))\n")
    return -1
  }

  /// `dsa_copy_desc_init`.
  private func copyDesc(src: UInt64, dst: UInt64, size: UInt64, interrupt: Bool) -> DSAHWDesc {
    var flags = DSAHW.IDXD_OP_FLAG_CRAV | DSAHW.IDXD_OP_FLAG_RCR
    if interrupt { flags |= DSAHW.IDXD_OP_FLAG_RCI }
    return DSAHWDesc(opcode: DSAHW.DSA_OPCODE_MEMMOVE, flags: flags, priv: 1, completionAddr: iova(DSAState.copyCompletionOffset),
                     srcAddr: src, dstAddr: dst, xferSize: UInt32(truncatingIfNeeded: size), intHandle: interrupt ? UInt16(Self.MSIX_VECTOR) : 0)
  }

  /// `dsa_batch_desc_init`.
  private func batchDesc(count: UInt64) -> DSAHWDesc {
    DSAHWDesc(opcode: DSAHW.DSA_OPCODE_BATCH, flags: DSAHW.IDXD_OP_FLAG_CRAV, priv: 1, completionAddr: iova(DSAState.batchCompletionOffset),
              srcAddr: iova(DSAState.copyOffset), xferSize: UInt32(truncatingIfNeeded: count))
  }

  /// `dsa_desc_write`: the 64-byte descriptor at `offset` of the region, to the BAR2 portal
  /// with MOVDIR64B (`iosubmit_cmds512`).
  private func descWrite(_ offset: Int) throws {
    // The BAR is checked first (a typed error), then the region (a precondition, as before).
    try bar2.submitCommand512(0, from: region.memory, at: offset)
  }

  private func zero(_ offset: Int, _ count: Int) { region.memory.fill(0, at: offset, count: count) }

  /// `dsa_memcpy_one`.
  private func memcpyOne(src: UInt64, dst: UInt64, size: UInt64, interrupt: Bool) throws {
    zero(DSAState.copyCompletionOffset, DSACompletionRecord.size)
    region.memory.write(copyDesc(src: src, dst: dst, size: size, interrupt: interrupt).bytes, at: DSAState.copyOffset)
    try descWrite(DSAState.copyOffset)
  }

  /// `dsa_memcpy_batch`: every copy descriptor the same copy (no completion each), then batches
  /// of at most max_copies_per_batch and at least 2 copies; the last asks for a completion.
  private func memcpyBatch(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    zero(DSAState.batchCompletionOffset, DSACompletionRecord.size)

    var copy = copyDesc(src: src, dst: dst, size: size, interrupt: false)
    // Don't request completions for individual copies.
    copy.flags &= ~DSAHW.IDXD_OP_FLAG_RCR
    let copyBytes = copy.bytes
    for i in 0..<DSAState.copyCount { region.memory.write(copyBytes, at: DSAState.copyOffset + i * DSAHWDesc.size) }

    var count = count
    var i = 0
    while i < DSAState.batchCount, count != 0 {
      var nrCopies = min(count, maxCopiesPerBatch)
      count -= nrCopies
      // Batches must have at least 2 copies: with exactly 1 left, do one less here and 2 next.
      if count == 1 {
        nrCopies -= 1
        count += 1
      }
      var batch = batchDesc(count: nrCopies)
      // Request a completion for the last batch.
      if count == 0 { batch.flags |= DSAHW.IDXD_OP_FLAG_RCR }
      let offset = DSAState.batchOffset + i * DSAHWDesc.size
      region.memory.write(batch.bytes, at: offset)
      try descWrite(offset)
      i += 1
    }
    guard count == 0 else { throw fail("memcpy_start", "Failed to start \(count) copies.") }
  }

  /// `dsa_memcpy_start`: one descriptor for one copy (batches need at least 2), else batches.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    if count == 1 {
      try memcpyOne(src: src, dst: dst, size: size, interrupt: false)
    } else {
      try memcpyBatch(src: src, dst: dst, size: size, count: count)
    }
    memcpyCount = count
  }

  /// `dsa_memcpy_wait`.
  public func memcpyWait() throws -> Int32 {
    defer { memcpyCount = 0 }
    if memcpyCount == 1 {
      return try completionWait(DSAState.copyCompletionOffset, "memcpy_wait")
    }
    return try completionWait(DSAState.batchCompletionOffset, "memcpy_wait")
  }

  /// `dsa_send_msi`: one 8-byte copy within the region with a completion interrupt on vector 1.
  public var sendMSI: (() throws -> Void)? {
    { [self] in
      try memcpyOne(src: iova(DSAState.sendMSISrcOffset), dst: iova(DSAState.sendMSIDstOffset), size: 8, interrupt: true)
      let r = try completionWait(DSAState.copyCompletionOffset, "send_msi")
      guard r == 0 else { throw fail("send_msi", "completion wait returned \(r)") }
    }
  }
}

#endif
