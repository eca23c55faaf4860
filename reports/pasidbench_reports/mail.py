"""--mail: not built yet (issue 13 item 4). Until it is, the option prints
the summary and says so, rather than an empty message."""


def render(reports, mutant_report, summary_text, sources) -> str:
    return (summary_text + "\n(--mail: the full mail message is not built "
            "yet; this is the summary only)\n")
