"""The pytest plugin, as a user's project sees it: installed opsim, no conftest of ours."""

from __future__ import annotations

pytest_plugins = ["pytester"]


def test_users_get_a_started_sandbox_from_the_entry_point(pytester):
    pytester.makepyfile(test_mine='''
        import ftplib

        def test_my_oc_can_log_in(opsim_sandbox):
            ftp = ftplib.FTP()
            ftp.connect(*opsim_sandbox.ftp_address)
            ftp.login("DEMO", "demo")
            assert sorted(ftp.nlst()) == ["IN", "OUT"]
            ftp.close()

        def test_config_can_be_overridden(opsim_sandbox):
            assert opsim_sandbox.clock.frozen
            assert opsim_sandbox.clock.now().isoformat() == "2026-11-24T10:00:00"
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
