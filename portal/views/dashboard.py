"""The Dashboard (everything the account's grants show) and document downloads."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from outsmart.http import private_file_response
from portal import selectors
from portal.access import portal_view
from records.services.documents import DocumentMissing, document_open


@portal_view
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request, "portal/dashboard.html", {"dashboard": selectors.dashboard_for(request.user)}
    )


@portal_view
@require_GET
def document_download(request: HttpRequest, document_id: int) -> HttpResponse:
    # Not under one of the account's records grants (another patient's, or a patient reached
    # only through a Smart Form): 404, exactly like a document that does not exist.
    document = selectors.portal_document(request.user, document_id)
    if document is None:
        raise Http404
    try:
        handle = document_open(
            document=document,
            actor=request.user,
            request=request,
            action="portal.document_downloaded",
        )
    except DocumentMissing as error:
        raise Http404("The document's file is missing.") from error
    response = private_file_response(
        handle, filename=document.original_name, content_type=document.content_type
    )
    return response
