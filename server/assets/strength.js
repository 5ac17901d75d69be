// Tells a patient, as they type, how strong the password they are choosing
// is. Only advice: the server decides what it accepts (12 characters at
// least). A rough estimate from length, variety and repetition; the words
// are what a person can act on.
(function () {
  var field = document.querySelector("input[autocomplete=new-password]");
  var out = document.getElementById("password-strength");
  if (!field || !out) return;
  var common = ["password", "123456", "qwerty", "letmein", "welcome", "iloveyou", "admin"];
  function plain(s) { return s.toLowerCase().replace(/[^a-z0-9]/g, ""); }
  function judge(value) {
    if (!value) return ["", ""];
    var code = document.getElementById("code");
    if (code && code.value && plain(value) === plain(code.value)) {
      return ["weak", "That is your access code. Choose a password of your own: the code works only once."];
    }
    if (value.length < 12) return ["weak", "Too short: " + (12 - value.length) + " more characters."];
    var lower = value.toLowerCase();
    for (var i = 0; i < common.length; i++) {
      if (lower.indexOf(common[i]) !== -1) return ["weak", "Easy to guess: it contains “" + common[i] + "”."];
    }
    var distinct = {};
    for (var j = 0; j < value.length; j++) distinct[value[j]] = true;
    if (Object.keys(distinct).length < value.length / 3) return ["weak", "Too repetitive. A few unrelated words work well."];
    var pool = 0;
    if (/[a-z]/.test(value)) pool += 26;
    if (/[A-Z]/.test(value)) pool += 26;
    if (/[0-9]/.test(value)) pool += 10;
    if (/[^a-zA-Z0-9]/.test(value)) pool += 20;
    var bits = value.length * Math.log(pool) / Math.LN2;
    if (bits < 60) return ["fair", "Fair. A few more characters or another word would make it strong."];
    return ["strong", "Strong."];
  }
  function update() {
    var verdict = judge(field.value);
    out.className = "strength " + verdict[0];
    out.textContent = verdict[1];
  }
  field.addEventListener("input", update);
  update();
})();
