"""Old home of :mod:`repograder.syslibs` (kept importable for the Docker backend and tests).

The table is pure knowledge about distributions, used by scoring too (a failed step that could
not load a system library), so it lives outside the sandbox package.
"""

from repograder.syslibs import (
    REQUIRES as REQUIRES,
)
from repograder.syslibs import (
    SONAME_PACKAGES as SONAME_PACKAGES,
)
from repograder.syslibs import (
    TABLE as TABLE,
)
from repograder.syslibs import (
    MissingLibrary as MissingLibrary,
)
from repograder.syslibs import (
    Need as Need,
)
from repograder.syslibs import (
    apt_packages_for as apt_packages_for,
)
from repograder.syslibs import (
    debian_package_of as debian_package_of,
)
from repograder.syslibs import (
    missing_library as missing_library,
)
from repograder.syslibs import (
    requirement_names as requirement_names,
)
