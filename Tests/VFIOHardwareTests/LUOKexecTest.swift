// SPDX-License-Identifier: GPL-2.0-only
// The ports of tools/testing/selftests/liveupdate/luo_kexec_simple.c, luo_multi_session.c,
// luo_stress_files.c and luo_stress_sessions.c:
// two-stage tests driven by luo_test(). Stage 1 preserves memfds in sessions and hands the
// sessions to a holder; the runner kexecs; stage 2 retrieves, verifies and finishes them.
// They run only in staged runs (VFIO_SELFTESTS_STAGE), e.g. scripts/vm-test.sh --stages 2.
import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

/// A session name as C's program names it, after `VFIO_SELFTESTS_LUO_SESSION_PREFIX` (unset: C's
/// own names), so the C programs can hold theirs across the same kexec.
func luoName(_ cName: String) throws -> String {
  try SelftestsEnvironment.currentLUOSessionPrefix() + cName
}

/// `luo_test()`: checks the requested stage against the state session, then runs the stage.
/// Stage 1 gets the open device; stage 2 also gets the retrieved state session.
func luoTest(stateSession: String, stateToken: UInt64,
             stage1: (LiveUpdateDevice) throws -> Void,
             stage2: (LiveUpdateDevice, LiveUpdateSession) throws -> Void) throws {
  let requested = try #require(try KexecStage.current())
  let luo = try LiveUpdateDevice()
  defer { luo.close() }
  let state = try LiveUpdateStage.select(requested: requested, luo: luo, stateSession: stateSession)
  switch requested {
  case .beforeKexec:
    try stage1(luo)
  case .afterKexec:
    let state = try #require(state)
    defer { state.close() }
    #expect(try StateSession.readStage(state, token: stateToken) == 2)
    try stage2(luo, state)
  }
}

/// Stage 1's hand-over: create the state session (next stage 2), close /dev/liveupdate, and
/// fork the holder for `sessions` plus the state session (`daemonize_and_wait()`).
func handOver(_ luo: LiveUpdateDevice, stateSession: String, stateToken: UInt64, _ sessions: [LiveUpdateSession],
              alsoKeeping others: [FileDescriptor] = []) throws {
  let holder = LiveUpdateHolder()
  try holder.checkNoHolder(stateSession)
  let state = try StateSession.create(luo, name: stateSession, token: stateToken, nextStage: .afterKexec)
  luo.close()
  print("[STAGE 1] Forking persistent child to hold sessions...")
  try holder.hold(sessions + [state], alsoKeeping: others, name: stateSession)
}

extension Hardware {
  @Suite("luo_kexec", .liveUpdate, .staged, .hangGuard)
  struct LUOKexecTest {
    @Test func luo_kexec_simple() throws {
      let state = try luoName("kexec_simple_state"), stateToken: UInt64 = 999
      try luoTest(stateSession: state, stateToken: stateToken) { luo in
        let session = try luo.createSession(try luoName("test-session"))
        try Memfd.preserve("hello kexec world", in: session, token: 0x1A)
        try handOver(luo, stateSession: state, stateToken: stateToken, [session])
      } stage2: { luo, stateSession in
        let session = try luo.retrieveSession(try luoName("test-session"))
        defer { session.close() }
        let fd = try Memfd.restore(from: session, token: 0x1A, expecting: "hello kexec world")
        Memfd.close(fd)
        try session.finish()
        try stateSession.finish()
        print("--- SIMPLE KEXEC TEST PASSED ---")
      }
    }

    @Test func luo_multi_session() throws {
      let state = try luoName("kexec_multi_state"), stateToken: UInt64 = 998
      let files: [(session: String, token: UInt64, data: String)] = [
        ("multi-test-files-1", 0x1001, "Data for session files 1"),
        ("multi-test-files-2", 0x2002, "First file for session files 2"),
        ("multi-test-files-2", 0x3003, "Second file for session files 2"),
      ]
      let names = ["multi-test-empty-1", "multi-test-empty-2", "multi-test-files-1", "multi-test-files-2"]
      try luoTest(stateSession: state, stateToken: stateToken) { luo in
        var sessions: [String: LiveUpdateSession] = [:]
        for name in names { sessions[name] = try luo.createSession(try luoName(name)) }
        for f in files { try Memfd.preserve(f.data, in: sessions[f.session]!, token: f.token) }
        try handOver(luo, stateSession: state, stateToken: stateToken, names.map { sessions[$0]! })
      } stage2: { luo, stateSession in
        var sessions: [String: LiveUpdateSession] = [:]
        defer { for s in sessions.values { s.close() } }
        for name in names { sessions[name] = try luo.retrieveSession(try luoName(name)) }
        for f in files {
          let fd = try Memfd.restore(from: sessions[f.session]!, token: f.token, expecting: f.data)
          Memfd.close(fd)
        }
        for name in names { try sessions[name]!.finish() }
        try stateSession.finish()
        print("--- MULTI-SESSION KEXEC TEST PASSED ---")
      }
    }

    @Test func luo_stress_files() throws {
      let state = try luoName("kexec_many_files_state"), stateToken: UInt64 = 9999, count = 500
      try luoTest(stateSession: state, stateToken: stateToken) { luo in
        let session = try luo.createSession(try luoName("many_files_session"))
        for i in 0..<count { try Memfd.preserve("file-data-\(i)", in: session, token: UInt64(i)) }
        try handOver(luo, stateSession: state, stateToken: stateToken, [session])
      } stage2: { luo, stateSession in
        let session = try luo.retrieveSession(try luoName("many_files_session"))
        defer { session.close() }
        for i in 0..<count {
          let fd = try Memfd.restore(from: session, token: UInt64(i), expecting: "file-data-\(i)")
          Memfd.close(fd)
        }
        try session.finish()
        try stateSession.finish()
        print("--- MANY-FILES KEXEC TEST PASSED (\(count) files) ---")
      }
    }

    @Test(RequiresNoFileLimit(minimum: 2000)) func luo_stress_sessions() throws {
      let state = try luoName("kexec_many_state"), stateToken: UInt64 = 999, count = 2000
      try luoTest(stateSession: state, stateToken: stateToken) { luo in
        var sessions: [LiveUpdateSession] = []
        for i in 0..<count { sessions.append(try luo.createSession(try luoName("many-test-\(i)"))) }
        try handOver(luo, stateSession: state, stateToken: stateToken, sessions)
      } stage2: { luo, stateSession in
        for i in 0..<count {
          let session = try luo.retrieveSession(try luoName("many-test-\(i)"))
          defer { session.close() }
          try session.finish()
        }
        try stateSession.finish()
        print("--- MANY-SESSIONS KEXEC TEST PASSED (\(count) sessions) ---")
      }
    }
  }
}
