// SPDX-License-Identifier: GPL-2.0-only
// The Live Update uAPI (linux/liveupdate.h) as LibLiveUpdate uses it, in one place, as
// LibVFIO's UAPI.swift is for VFIO and iommufd: the ioctl numbers here, the structs
// (`liveupdate_ioctl_*`, `liveupdate_session_*`) in CVFIOShim's header. The uAPI conformance
// test checks both against the kernel's headers.
import LibVFIO

/// linux/liveupdate.h
public enum LiveUpdateUAPI {
  public static let type: UInt = 0xBA
  public static let sessionNameLength = 64
  public static let CREATE_SESSION = _IO(type, 0x00)
  public static let RETRIEVE_SESSION = _IO(type, 0x01)
  public static let SESSION_PRESERVE_FD = _IO(type, 0x40)
  public static let SESSION_RETRIEVE_FD = _IO(type, 0x41)
  public static let SESSION_FINISH = _IO(type, 0x42)
  public static let SESSION_GET_NAME = _IO(type, 0x43)
}
