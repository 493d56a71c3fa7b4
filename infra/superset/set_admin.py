"""Create Superset's admin user, or set its password, from SUPERSET_ADMIN_USER and SUPERSET_ADMIN_PASSWORD.

Run by the launcher (infra/stack/services/superset.py) with Superset's own interpreter and configuration. It exists
so the password travels in the environment, which only the process's owner can read: `superset fab create-admin
--password ...` would put it in the process's argv, which every user of the machine reads in /proc/<pid>/cmdline.
"""

import os
import sys

from superset.app import create_app
from werkzeug.security import check_password_hash


def main() -> int:
    """Create the user with the Admin role, or reset the password of the existing one; exit 1 unless the stored
    password then matches (FAB logs its errors and returns instead of raising)."""
    user, password = os.environ["SUPERSET_ADMIN_USER"], os.environ.pop("SUPERSET_ADMIN_PASSWORD")
    app = create_app()
    with app.app_context():
        security = app.appbuilder.sm
        existing = security.find_user(username=user)
        if existing:
            security.reset_password(existing.id, password)
        else:
            security.add_user(
                user, "Superset", "Admin", f"{user}@localhost", security.find_role(security.auth_role_admin), password
            )
        saved = security.find_user(username=user)
        done = saved is not None and check_password_hash(saved.password, password)
    print(
        f"{'reset the password of' if existing else 'created'} the admin user {user}"
        if done
        else f"Superset refused to save the admin user {user} (see the messages above)",
        file=sys.stderr,
    )
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
