// SPDX-License-Identifier: GPL-2.0-only
// The 82576 registers and bits the igb selftest driver uses, named as in Linux 7.3's
// drivers/net/ethernet/intel/igb/e1000_regs.h, e1000_defines.h, e1000_82575.h (E1000.X is
// E1000_X) and include/uapi/linux/mii.h (MII.BMCR is MII_BMCR, MII.BMCR_X is BMCR_X), and the
// descriptor and state layouts of igb.c; Tests/UAPIConformanceTests/DriverConformanceTests.swift
// checks every value here against those sources. Register offsets are byte offsets into BAR 0.

enum E1000 {
  // e1000_regs.h
  static let CTRL = 0x00000
  static let EECD = 0x00010
  static let CTRL_EXT = 0x00018
  static let MDIC = 0x00020
  static let IMC = 0x000D8
  static let RCTL = 0x00100
  static let TCTL = 0x00400
  static let EICS = 0x01520
  static let EIMS = 0x01524
  static let EIMC = 0x01528
  static let EIAC = 0x0152C
  static let EIAM = 0x01530
  static let EICR = 0x01580
  static let GPIE = 0x01514
  static let IVAR0 = 0x01700
  static let GCR = 0x05B00

  /// The queue registers, for queues 0-3 (`_n < 4` in the C macros; the driver uses queue 0).
  static func RDBAL(_ n: Int) -> Int { queue(0x02800, n) }
  static func RDBAH(_ n: Int) -> Int { queue(0x02804, n) }
  static func RDLEN(_ n: Int) -> Int { queue(0x02808, n) }
  static func SRRCTL(_ n: Int) -> Int { queue(0x0280C, n) }
  static func RDH(_ n: Int) -> Int { queue(0x02810, n) }
  static func RDT(_ n: Int) -> Int { queue(0x02818, n) }
  static func RXDCTL(_ n: Int) -> Int { queue(0x02828, n) }
  static func TDBAL(_ n: Int) -> Int { queue(0x03800, n) }
  static func TDBAH(_ n: Int) -> Int { queue(0x03804, n) }
  static func TDLEN(_ n: Int) -> Int { queue(0x03808, n) }
  static func TDH(_ n: Int) -> Int { queue(0x03810, n) }
  static func TDT(_ n: Int) -> Int { queue(0x03818, n) }
  static func TXDCTL(_ n: Int) -> Int { queue(0x03828, n) }

  private static func queue(_ base: Int, _ n: Int) -> Int {
    precondition((0..<4).contains(n), "queue \(n): only queues 0-3 are laid out here")
    return base + n * 0x100
  }

  // e1000_defines.h
  static let CTRL_FD: UInt32 = 0x0000_0001
  static let CTRL_SLU: UInt32 = 0x0000_0040
  static let CTRL_SPD_SEL: UInt32 = 0x0000_0300
  static let CTRL_SPD_1000: UInt32 = 0x0000_0200
  static let CTRL_FRCSPD: UInt32 = 0x0000_0800
  static let CTRL_FRCDPX: UInt32 = 0x0000_1000
  static let CTRL_RST: UInt32 = 0x0400_0000
  static let CTRL_EXT_DRV_LOAD: UInt32 = 0x1000_0000
  static let CTRL_EXT_LINK_MODE_MASK: UInt32 = 0x00C0_0000
  static let EECD_AUTO_RD: UInt32 = 0x0000_0200
  static let MDIC_REG_SHIFT: UInt32 = 16
  static let MDIC_PHY_SHIFT: UInt32 = 21
  static let MDIC_OP_WRITE: UInt32 = 0x0400_0000
  static let MDIC_READY: UInt32 = 0x1000_0000
  static let MDIC_ERROR: UInt32 = 0x4000_0000
  static let RCTL_EN: UInt32 = 0x0000_0002
  static let RCTL_UPE: UInt32 = 0x0000_0008
  static let RCTL_MPE: UInt32 = 0x0000_0010
  static let RCTL_LBM_MAC: UInt32 = 0x0000_0040
  static let RCTL_BAM: UInt32 = 0x0000_8000
  static let RCTL_SECRC: UInt32 = 0x0400_0000
  static let TCTL_EN: UInt32 = 0x0000_0002
  static let TCTL_PSP: UInt32 = 0x0000_0008
  static let GCR_CMPL_TMOUT_RESEND: UInt32 = 0x0001_0000
  static let GPIE_MSIX_MODE: UInt32 = 0x0000_0010
  static let GPIE_EIAME: UInt32 = 0x4000_0000
  static let IVAR_VALID: UInt32 = 0x80

  // e1000_82575.h
  static let TXDCTL_QUEUE_ENABLE: UInt32 = 0x0200_0000
  static let RXDCTL_QUEUE_ENABLE: UInt32 = 0x0200_0000
  static let SRRCTL_DESCTYPE_ADV_ONEBUF: UInt32 = 0x0200_0000
  static let ADVTXD_DTYP_DATA: UInt32 = 0x0030_0000
  static let ADVTXD_DCMD_EOP: UInt32 = 0x0100_0000
  static let ADVTXD_DCMD_IFCS: UInt32 = 0x0200_0000
  static let ADVTXD_DCMD_DEXT: UInt32 = 0x2000_0000
  static let ADVTXD_PAYLEN_SHIFT: UInt32 = 14
}

/// linux/mii.h: the PHY control register and its bits.
enum MII {
  static let BMCR: UInt32 = 0x00
  static let BMCR_SPEED1000: UInt16 = 0x0040
  static let BMCR_FULLDPLX: UInt16 = 0x0100
  static let BMCR_ANRESTART: UInt16 = 0x0200
  static let BMCR_ANENABLE: UInt16 = 0x1000
  static let BMCR_LOOPBACK: UInt16 = 0x4000
}

/// igb.c's `struct igb` (kept in the driver region: `bar0`, `tx_tail`, `rx_tail`, then the two
/// rings, each `__attribute__((aligned(128)))`) and its 16-byte descriptors `struct igb_tx_desc`
/// and `struct igb_rx_desc`. Only the rings are used here (the tails live in the driver object).
enum IGBState {
  /// `RING_SIZE`: descriptors per ring.
  static let ringSize = 4096
  static let descriptorSize = 16
  static let txRingOffset = 128
  static let rxRingOffset = txRingOffset + ringSize * descriptorSize
  /// `sizeof(struct igb)`.
  static let size = rxRingOffset + ringSize * descriptorSize

  /// `igb_tx_desc.read.{buffer_addr, cmd_type_len, olinfo_status}`.
  static let txBufferAddrOffset = 0
  static let txCmdTypeLenOffset = 8
  static let txOlinfoStatusOffset = 12
  /// `igb_rx_desc.read.{pkt_addr, hdr_addr}` and `igb_rx_desc.wb.status_error`.
  static let rxPktAddrOffset = 0
  static let rxHdrAddrOffset = 8
  static let rxStatusErrorOffset = 8
}
