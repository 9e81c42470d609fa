// The reporter's page: fill the location from the phone's GPS, and check the number of photos.
(function () {
  "use strict";

  function locate(button) {
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    var out = document.getElementById("location-text");
    if (!navigator.geolocation || !lat || !lon) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      out.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        out.textContent = button.dataset.found + " " + lat.value + ", " + lon.value +
          " (±" + Math.round(pos.coords.accuracy) + " m)";
      }, function () {
        out.textContent = button.dataset.failed;
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  }

  function limitPhotos(input) {
    var max = parseInt(input.dataset.max, 10);
    input.addEventListener("change", function () {
      input.setCustomValidity(input.files.length > max ? input.dataset.tooMany : "");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-locate]").forEach(locate);
    document.querySelectorAll("input[type=file][data-max]").forEach(limitPhotos);
  });
}());
