"""The twelve factors: number, name, and where their notes live."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Factor:
    number: int
    slug: str
    name: str
    summary: str

    @property
    def roman(self) -> str:
        return _ROMAN[self.number]

    @property
    def url(self) -> str:
        """The factor's page on 12factor.net."""
        return f"https://12factor.net/{_URL_PAGES[self.number]}"

    @property
    def note_id(self) -> str:
        """Id of the factor note under prompts/notes (Dendron hierarchy)."""
        return f"tech.practice.12-factor-app.{self.slug}"

    @property
    def title(self) -> str:
        return f"{self.roman}. {self.name}"


_ROMAN = {
    1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI",
    7: "VII", 8: "VIII", 9: "IX", 10: "X", 11: "XI", 12: "XII",
}  # fmt: skip

_URL_PAGES = {
    1: "codebase", 2: "dependencies", 3: "config", 4: "backing-services",
    5: "build-release-run", 6: "processes", 7: "port-binding", 8: "concurrency",
    9: "disposability", 10: "dev-prod-parity", 11: "logs", 12: "admin-processes",
}  # fmt: skip

FACTORS: dict[int, Factor] = {
    f.number: f
    for f in (
        Factor(1, "codebase", "Codebase", "One codebase tracked in revision control, many deploys"),
        Factor(2, "dependencies", "Dependencies", "Explicitly declare and isolate dependencies"),
        Factor(3, "configuration", "Config", "Store config in the environment"),
        Factor(
            4,
            "backing-services",
            "Backing services",
            "Treat backing services as attached resources",
        ),
        Factor(
            5, "build-release-run", "Build, release, run", "Strictly separate build and run stages"
        ),
        Factor(6, "processes", "Processes", "Execute the app as one or more stateless processes"),
        Factor(7, "port-binding", "Port binding", "Export services via port binding"),
        Factor(8, "concurrency", "Concurrency", "Scale out via the process model"),
        Factor(
            9,
            "disposability",
            "Disposability",
            "Maximize robustness with fast startup and graceful shutdown",
        ),
        Factor(
            10,
            "dev-prod-parity",
            "Dev/prod parity",
            "Keep development, staging, and production as similar as possible",
        ),
        Factor(11, "logs", "Logs", "Treat logs as event streams"),
        Factor(
            12,
            "admin-processes",
            "Admin processes",
            "Run admin/management tasks as one-off processes",
        ),
    )
}


def factor(number: int) -> Factor:
    """The factor with this number; KeyError for anything outside 1..12."""
    return FACTORS[number]
