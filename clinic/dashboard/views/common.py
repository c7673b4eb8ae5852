"""Small helpers shared by the dashboard views."""

from dataclasses import dataclass

from django.core.paginator import Page
from django.http import HttpRequest


@dataclass(frozen=True)
class PageLinks:
    page: Page
    previous_url: str | None
    next_url: str | None
    anchor: str = ""


def page_links(request: HttpRequest, page: Page, param: str, anchor: str = "") -> PageLinks:
    """Previous/next links for one paginated list, keeping every other query parameter."""

    def url(number: int) -> str:
        query = request.GET.copy()
        query[param] = str(number)
        return f"?{query.urlencode()}{'#' + anchor if anchor else ''}"

    return PageLinks(
        page=page,
        previous_url=url(page.previous_page_number()) if page.has_previous() else None,
        next_url=url(page.next_page_number()) if page.has_next() else None,
        anchor=anchor,
    )
