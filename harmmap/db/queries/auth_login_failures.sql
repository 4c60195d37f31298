-- Failed sign-ins within the throttle's window, newest first, for the account name and for the address,
-- with the server's clock (the wait is counted from the database's time, shared by every worker).
SELECT (SELECT array_agg(at ORDER BY at DESC) FROM auth.login_failure
        WHERE account = %(account)s AND at > now() - %(window)s) AS by_account,
       (SELECT array_agg(at ORDER BY at DESC) FROM auth.login_failure
        WHERE address = %(address)s AND at > now() - %(window)s) AS by_address,
       now() AS now
