// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO

/// What this kernel offers for Live Update, each missing piece with a skip reason.
public enum LiveUpdateCapabilities {
  /// nil when `/dev/liveupdate` exists, else the reason.
  public static func deviceUnavailability(path: String = LiveUpdate.devicePath) -> String? {
    FileSystem.exists(path) ? nil : "no /dev/liveupdate (kernel without CONFIG_LIVEUPDATE, or booted without liveupdate=on)"
  }

  /// A positive probe for the VFIO Live Update series (vfio-pci's LUO file handler): its
  /// `vfio_pci_liveupdate_*` functions in `/proc/kallsyms` once vfio-pci is loaded. nil when
  /// present, else the reason. Never inferred from a failed preserve.
  public static func vfioUnavailability(kallsyms: String = "/proc/kallsyms") -> String? {
    guard case .success(let found) = FileSystem.contains(kallsyms, [" vfio_pci_liveupdate_"]) else {
      return "cannot read \(kallsyms) to probe for VFIO Live Update support"
    }
    if found[0] { return nil }
    return "kernel cannot preserve VFIO device files: no vfio_pci_liveupdate_* in \(kallsyms) (needs the VFIO Live Update series, CONFIG_VFIO_PCI_LIVEUPDATE)"
  }
}
