"""The crisis desk: the crisis-response domain in plain Python, without Flask, used by the
review UI and the command line alike. Organisations and their people (``accounts``),
incidents and their fact sheets (``facts``), releases with their versions, approvals and
rules (``releases``, ``rules``, ``checks``, ``clocks``), the hash-chained audit log
(``audit``), the publishing outbox and its transmitters (``outbox``), and what the
dashboards and the stories page show (``dashboard``, ``stories``). Its tables live beside
the posts in the store of record (``tables``, opened by ``database.open_sessions``).

Two modules serve the whole product rather than the desk alone, because this is the lowest
package that sees every stage: ``status`` (the report of ``crisiswatch status`` and the
admin's status page) and ``migrations`` (the one schema history of the store's and the
desk's tables)."""
