// SPDX-License-Identifier: GPL-2.0-only
@testable import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

@Suite("stage selection (luo_test)")
struct StageTests {
  @Test(arguments: [("1", LiveUpdateStage.beforeKexec), ("2", .afterKexec)])
  func parsesStages(_ text: String, _ stage: LiveUpdateStage) throws {
    #expect(try LiveUpdateStage(parsing: text) == stage)
  }

  @Test(arguments: ["0", "3", "-1", "x", "", "1 ", "01x"])
  func rejectsOtherStages(_ text: String) {
    #expect(throws: LiveUpdateError.invalidStage(text)) { try LiveUpdateStage(parsing: text) }
  }

  @Test func stateSessionFoundMeansStage2() throws {
    let fd = try FileDescriptor.open("/dev/null", .readOnly)
    let session = LiveUpdateSession(fd: fd, name: "state", incoming: true)
    let (stage, s) = try LiveUpdateStage.detect(lookup: .success(session), stateSession: "state")
    #expect(stage == .afterKexec)
    #expect(s === session)
  }

  @Test func stateSessionMissingMeansStage1() throws {
    let (stage, s) = try LiveUpdateStage.detect(lookup: .failure(.noSuchFileOrDirectory), stateSession: "state")
    #expect(stage == .beforeKexec)
    #expect(s == nil)
  }

  @Test func anyOtherLookupErrorFails() {
    let error = #expect(throws: LiveUpdateError.self) {
      try LiveUpdateStage.detect(lookup: .failure(.notPermitted), stateSession: "state")
    }
    #expect(error?.errno == .notPermitted)
    #expect(error?.description.contains("session 'state'") == true)
  }

  @Test func syscallDescriptionHasVFIOErrorsShape() {
    let e = LiveUpdateError.syscall(operation: "ioctl(LIVEUPDATE_SESSION_PRESERVE_FD, token 0x1)", object: "session 'state'", errno: .resourceBusy)
    #expect(e.description.hasPrefix("ioctl(LIVEUPDATE_SESSION_PRESERVE_FD, token 0x1) failed for session 'state': EBUSY (16): "))
    #expect(e.description == VFIOError.syscall(operation: "ioctl(LIVEUPDATE_SESSION_PRESERVE_FD, token 0x1)", device: "session 'state'", errno: .resourceBusy).description)
    #expect(e.errno == .resourceBusy)
  }

  @Test func mismatchSaysBothStagesTheSessionAndWhetherItExists() {
    let missing = LiveUpdateError.stageMismatch(requested: 2, detected: 1, stateSession: "state-0000:00:03.0", exists: false)
    #expect(missing.description == "Stage mismatch Requested stage 2, but system is in stage 1. (State session state-0000:00:03.0: MISSING)")
    let exists = LiveUpdateError.stageMismatch(requested: 1, detected: 2, stateSession: "s", exists: true)
    #expect(exists.description == "Stage mismatch Requested stage 1, but system is in stage 2. (State session s: EXISTS)")
  }
}

@Suite("session names")
struct SessionNameTests {
  @Test func nameFieldIsNULPadded() throws {
    let field = try LiveUpdate.nameField("abc")
    #expect(field.count == 64)
    #expect(Array(field.prefix(4)) == [0x61, 0x62, 0x63, 0])
  }

  @Test func sixtyThreeBytesFit() throws {
    let field = try LiveUpdate.nameField(String(repeating: "A", count: 63))
    #expect(field[62] == UInt8(ascii: "A") && field[63] == 0)
  }

  @Test(arguments: [64, 65, 200])
  func longerNamesAreAnErrorNotATruncation(_ length: Int) throws {
    let name = String(repeating: "B", count: length)
    #expect(throws: LiveUpdateError.sessionNameTooLong(name: name, bytes: length)) { try LiveUpdate.nameField(name) }
    // Rejected before any ioctl: the "device" here is /dev/null, which would answer ENOTTY.
    let luo = LiveUpdateDevice(fd: try FileDescriptor.open("/dev/null", .readWrite), path: "/dev/null")
    #expect(throws: LiveUpdateError.sessionNameTooLong(name: name, bytes: length)) { try luo.createSession(name) }
    #expect(throws: LiveUpdateError.sessionNameTooLong(name: name, bytes: length)) { try luo.retrieveSession(name) }
  }

  @Test func multibyteNamesCountBytes() {
    let name = String(repeating: "é", count: 32)  // 64 bytes
    #expect(throws: LiveUpdateError.sessionNameTooLong(name: name, bytes: 64)) { try LiveUpdate.nameField(name) }
  }

  @Test func kernelErrorsNameTheOperationAndSession() throws {
    let luo = LiveUpdateDevice(fd: try FileDescriptor.open("/dev/null", .readWrite), path: "/dev/null")
    #expect(throws: LiveUpdateError.syscall(operation: "ioctl(LIVEUPDATE_IOCTL_CREATE_SESSION)", object: "session 'x'", errno: .inappropriateIOCTLForDevice)) {
      try luo.createSession("x")
    }
  }
}
