// LibLiveUpdate: /dev/liveupdate sessions, fd preservation and retrieval, the state session
// that carries the stage across kexec, and the holder process. The module is reserved here; its
// API is built in its own issue on top of the uAPI in CVFIOShim and LibVFIO's ioctl layer.
import LibVFIO

/// Facts about the Live Update Orchestrator device.
public enum LiveUpdate {
  /// The LUO character device (`LUO_DEVICE` in the C selftests).
  public static let devicePath = "/dev/liveupdate"
  /// Session names are at most 63 bytes plus the NUL (`LIVEUPDATE_SESSION_NAME_LENGTH`).
  public static let maxSessionNameLength = LiveUpdateUAPI.sessionNameLength - 1
}
