from django.urls import path
from drf_chunked_upload.views import ChunkedUploadView

urlpatterns = [
    path("api/chunked_upload/", ChunkedUploadView.as_view(), name="chunkedupload-list"),
    path("api/chunked_upload/<uuid:pk>/", ChunkedUploadView.as_view(), name="chunkedupload-detail"),
]
